"""Declarative study configs (``experiments/*.toml``) and the stage runners behind them.

A study file names the stages it needs (``data``, ``matrix``, ``explain``), the report
sections it renders, the chamber presets it registers and one section per profile
(``smoke``, ``quick``, ``full``)::

    name = "cross_chamber"
    title = "Cross-chamber accuracy"
    stages = ["matrix"]
    sections = ["cross_chamber"]
    presets = ["presets/vtpc1.toml"]      # relative to the study file
    [matrix]                              # MatrixConfig fields for every profile
    models = ["perceptron", "xgboost"]
    [profiles.quick]
    minutes = 6                           # wall time on 2 CPU cores (README table)
    [profiles.quick.matrix]               # changes on top of MatrixConfig.quick()
    n_events = 20

Every stage runs in ``WORKDIR/<stage>/<key>``, where ``key`` hashes everything the stage's
output depends on (its config, the presets' values, the user's data files, the key of the
stage it builds on). Studies with the same matrix settings share one matrix folder. A stage
folder with ``stage.json`` is finished and is reused without running anything; an unfinished
one is re-entered and the stage's own caching (cached data, finished classifiers) resumes it.
(The explain stage has no partial cache: an interrupted explain pass is redone, from the
saved classifiers.)

A stage that raises is recorded as ``failed`` (with its reason) and the stages that build on it
as ``missing``; the report is still written, names every failed stage at its top, and
``reproduce`` then exits with a non-zero status (:func:`failed_stages`). Bad input
(:class:`~interp.core.errors.TPCInterpError`) is not a stage failure: it stops the run with the
CLI's one-line message before anything is reported.

Every trained classifier inside a matrix folder additionally records its full training
identity (model config, profile, overrides, seed, data fingerprint; see
:func:`interp.study.identity.training_identity`): a changed config retrains that cell, and the
matrix report says so.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
import json
import logging
import os
import time
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from interp.core.errors import TPCInterpError, UnknownNameError
from interp.core.fsutil import atomic_write_text
from interp.core.profiles import PROFILES

STAGE_FILE = "stage.json"


def _experiments_dir() -> Path:
    """Folder of the shipped study files: the ``experiments`` package's data (the checkout's
    ``experiments/`` in a clone, site-packages after ``pip install .``)."""
    folder = importlib.resources.files("experiments")
    if not isinstance(folder, Path):  # a zipped install: study files need a real folder
        raise TPCInterpError(f"study files are not in a folder ({folder}); install unzipped")
    return folder


EXPERIMENTS_DIR: Path = _experiments_dir()
"""Folder of the shipped study files (``<name>.toml``, ``presets/*.toml``)."""
_log = logging.getLogger(__name__)


class StudyConfigError(TPCInterpError):
    """A study file that cannot be read or has wrong fields."""


@dataclasses.dataclass(frozen=True)
class Profile:
    """One profile section of a study.

    Attributes:
        name: ``smoke``, ``quick`` or ``full``.
        minutes: Documented wall time on 2 CPU cores (``None``: not measured).
        matrix: MatrixConfig changes on top of ``MatrixConfig.<name>()``.
        explain: ExplainConfig changes.
        data: DataStudyConfig changes on top of ``DataStudyConfig.<name>()``.
    """

    name: str
    minutes: float | None = None
    matrix: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    explain: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Study:
    """A parsed ``experiments/<name>.toml``.

    Attributes:
        name: Study name (file stem unless given).
        title: Heading in the report.
        description: One paragraph for the report.
        stages: Stage kinds to run, in order (see :data:`STAGES`).
        sections: Report sections to render (see :mod:`interp.report.markdown`).
        presets: Chamber preset files registered before anything runs.
        profiles: Profile name -> :class:`Profile`.
        path: The study file.
        order: Position in ``all`` (then by name).
        in_all: Whether ``reproduce all`` runs it (``false`` for long optional studies, which
            run by name).
    """

    name: str
    title: str
    description: str
    stages: tuple[str, ...]
    sections: tuple[str, ...]
    presets: tuple[Path, ...]
    profiles: Mapping[str, Profile]
    path: Path
    order: int = 100
    in_all: bool = True

    def profile(self, name: str) -> Profile:
        """The profile section called ``name``.

        Raises:
            UnknownNameError: Unknown profile.
        """
        if name not in self.profiles:
            raise UnknownNameError(f"profile of study {self.name!r}", name, list(self.profiles))
        return self.profiles[name]

    def register_presets(self) -> dict[str, dict[str, Any]]:
        """Registers the study's chamber presets; returns name -> preset values."""
        from interp.data.chambers import load_chamber_preset

        out = {}
        for p in self.presets:
            preset = load_chamber_preset(p, overwrite=True)
            out[preset.name] = dataclasses.asdict(preset)
        return out

    def with_chambers(self, chambers: tuple[str, ...]) -> Study:
        """This study with its matrix run on ``chambers`` in every profile (a user's own
        chambers, e.g. ``("VTPC2", "NEWTPC")`` with ``--data NEWTPC=FILE``)."""
        if "matrix" not in self.stages:
            return self
        profiles = {
            n: dataclasses.replace(p, matrix={**p.matrix, "chambers": list(chambers)})
            for n, p in self.profiles.items()
        }
        return dataclasses.replace(self, profiles=profiles)

    def matrix_config(self, profile: str) -> Any:
        """The :class:`~interp.study.config.MatrixConfig` of a profile."""
        from interp.study.config import MatrixConfig

        changes = dict(self.profile(profile).matrix)
        for key in ("models", "chambers", "fractions"):
            if key in changes:
                changes[key] = tuple(changes[key])
        try:
            return MatrixConfig.from_profile(profile, **changes)
        except TypeError as exc:
            raise StudyConfigError(f"{self.path}: bad [matrix] field: {exc}") from None

    def explain_config(self, profile: str) -> Any:
        """The :class:`~interp.study.explain_stage.ExplainConfig` of a profile."""
        from interp.study.explain_stage import ExplainConfig

        changes = dict(self.profile(profile).explain)
        if "occlusion_patch" in changes:
            changes["occlusion_patch"] = tuple(changes["occlusion_patch"])
        return ExplainConfig(**changes)

    def data_config(self, profile: str) -> Any:
        """The :class:`~interp.study.data_stage.DataStudyConfig` of a profile."""
        from interp.study.data_stage import DataStudyConfig

        changes = dict(self.profile(profile).data)
        for key in ("chambers", "fractions"):
            if key in changes:
                changes[key] = tuple(changes[key])
        return dataclasses.replace(DataStudyConfig.profile(profile), **changes)


# ----------------------------------------------------------------------------------- loading
_STUDY_KEYS = {
    "name",
    "order",
    "in_all",
    "title",
    "description",
    "stages",
    "sections",
    "presets",
    "profiles",
}
_SECTION_KEYS = ("matrix", "explain", "data")


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    return {**base, **over}


def load_study(name_or_path: str | Path, root: Path | None = None) -> Study:
    """Reads a study by name (``experiments/<name>.toml``) or by path.

    Raises:
        UnknownNameError: No such study name.
        StudyConfigError: Unreadable file or unknown fields.
    """
    root = root or EXPERIMENTS_DIR
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = root / f"{name_or_path}.toml"
        if not path.is_file():
            raise UnknownNameError("study", str(name_or_path), study_names(root))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StudyConfigError(f"{path}: cannot read study config: {exc}") from None
    unknown = sorted(set(raw) - _STUDY_KEYS - set(_SECTION_KEYS))
    if unknown:
        raise StudyConfigError(f"{path}: unknown field(s) {unknown}")
    stages = tuple(raw.get("stages", ["matrix"]))
    for s in stages:
        if s not in STAGES:
            raise StudyConfigError(f"{path}: unknown stage {s!r}; known: {sorted(STAGES)}")
    profiles = {}
    for pname in PROFILES:
        sec = dict(raw.get("profiles", {}).get(pname, {}))
        extra = sorted(set(sec) - {"minutes", *_SECTION_KEYS})
        if extra:
            raise StudyConfigError(f"{path}: unknown field(s) {extra} in [profiles.{pname}]")
        parts = {k: _merge(raw.get(k, {}), sec.get(k, {})) for k in _SECTION_KEYS}
        profiles[pname] = Profile(name=pname, minutes=sec.get("minutes"), **parts)
    return Study(
        name=str(raw.get("name", path.stem)),
        title=str(raw.get("title", path.stem)),
        description=str(raw.get("description", "")).strip(),
        stages=stages,
        sections=tuple(raw.get("sections", [])),
        presets=tuple((path.parent / p).resolve() for p in raw.get("presets", [])),
        profiles=profiles,
        path=path.resolve(),
        order=int(raw.get("order", 100)),
        in_all=bool(raw.get("in_all", True)),
    )


def study_names(root: Path | None = None) -> list[str]:
    """Names of the study files in ``experiments/``."""
    return sorted(p.stem for p in (root or EXPERIMENTS_DIR).glob("*.toml"))


def load_studies(selection: str, root: Path | None = None) -> list[Study]:
    """``"all"`` -> every study with ``in_all`` set, else the one study named (or a path to a
    TOML file)."""
    if selection == "all":
        studies = [s for s in (load_study(n, root) for n in study_names(root)) if s.in_all]
        return sorted(studies, key=lambda s: (s.order, s.name))
    return [load_study(selection, root)]


# ----------------------------------------------------------------------------------- stages
@dataclasses.dataclass
class StageContext:
    """What a stage runner gets.

    Attributes:
        study: The study.
        profile: Profile name.
        workdir: Top work directory (stage folders live below it).
        data_files: Chamber -> user cluster file.
        png: Write PNG figures.
        progress: Show progress bars.
        log: One-line status callback.
        results: Stage kind -> :class:`StageResult` of the stages already run for this study.
        rename_chamber: Accept data files whose chamber metadata differs from their key.
    """

    study: Study
    profile: str
    workdir: Path
    data_files: Mapping[str, Path]
    png: bool
    progress: bool
    log: Callable[[str], None]
    results: dict[str, StageResult] = dataclasses.field(default_factory=dict)
    rename_chamber: bool = False


@dataclasses.dataclass
class StageResult:
    """One finished (or failed) stage.

    Attributes:
        kind: Stage kind.
        key: Config hash naming its folder.
        folder: ``WORKDIR/<kind>/<key>``.
        status: ``done``, ``reused``, ``failed`` (raised; see ``reason``) or ``missing``
            (could not run, e.g. the stage it builds on failed; see ``reason``).
        seconds: Wall time of the original run.
        config: The stage's config (JSON).
        reason: Why a stage failed or is missing.
    """

    kind: str
    key: str
    folder: Path
    status: str
    seconds: float
    config: dict[str, Any]
    reason: str | None = None


def config_key(payload: Any) -> str:
    """12 hex digits of the SHA-256 of a JSON payload (sorted keys)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _file_identity(path: Path) -> dict[str, Any]:
    st = path.stat()
    return {"path": str(path.resolve()), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}


def _stage_outputs(folder: Path) -> list[str]:
    """Relative paths of the files a stage wrote (its record, temporaries and locks aside)."""
    from interp.core.fsutil import TEMP_NAME
    from interp.core.locking import LOCK_FILE

    out = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name not in (STAGE_FILE, LOCK_FILE) and not TEMP_NAME.match(p.name):
            out.append(p.relative_to(folder).as_posix())
    return out


def stage_record_problem(folder: Path) -> tuple[str | None, dict[str, Any]]:
    """Why the stage in ``folder`` is not finished and intact (``None``: it is), and its record.

    ``stage.json`` holds the wall time, the config and the size + SHA-256 of every file the
    stage wrote; a missing, unreadable or incomplete record, or any file missing, truncated or
    edited since, is a reason to run the stage again.
    """
    from interp.core.fsutil import folder_problems

    marker = folder / STAGE_FILE
    if not marker.is_file():
        return "not run yet", {}
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{STAGE_FILE} is unreadable ({exc})", {}
    if not isinstance(info, dict) or not isinstance(info.get("seconds"), int | float):
        return f"{STAGE_FILE} is incomplete", {}
    if "outputs" not in info:
        return f"{STAGE_FILE} records no output digests (written by an older version)", {}
    problems = folder_problems(folder, info["outputs"])
    if problems:
        more = f"; {len(problems) - 3} more" if len(problems) > 3 else ""
        shown = "; ".join(problems[:3]) + more
        return f"its files changed since it finished ({shown})", info
    return None, info


PARTIAL_SUFFIX = ".partial"
"""A stage is built in ``<kind>/.<key>.partial`` and renamed to ``<kind>/<key>`` when done."""


def partial_folder(folder: Path) -> Path:
    """The private build folder of the stage published as ``folder``."""
    return folder.parent / f".{folder.name}{PARTIAL_SUFFIX}"


def run_stage(
    kind: str,
    ctx: StageContext,
    config: dict[str, Any],
    body: Callable[[Path], None],
    in_place: Mapping[str, Any] | None = None,
) -> StageResult:
    """Runs ``body(build folder)`` for the stage keyed by ``config`` unless it finished before.

    ``in_place`` holds settings that do not name the folder (so the stages built on it keep
    their keys) but that the finished stage must have run with, e.g. the matrix's fold-ensemble
    / TTA rows: a finished stage recorded with other ``in_place`` values is re-entered in place
    (its files, finished classifiers included, reused) as a damaged one is.

    The work directory is locked for the stage (:func:`interp.core.locking.workdir_lock`), so two
    writers never interleave. The stage is built in a private folder
    ``<kind>/.<key>.partial`` (:func:`partial_folder`); when ``body`` returns, ``stage.json``
    (wall time, config, size + SHA-256 of every file) is written there and the folder is
    published as ``<kind>/<key>`` by one atomic rename. A reader therefore sees either no
    ``<kind>/<key>`` or a finished one with its record; a kill leaves only the private folder,
    which the next call re-enters, so the stage's own caching (cached data, finished
    classifiers) resumes it. A published stage whose record or files do not check out is
    moved back to its private folder by one rename and run again there (with a message saying
    why).
    """
    import shutil

    from interp.core.fsutil import digests, fsync_folder
    from interp.core.locking import workdir_lock

    key = config_key({"kind": kind, **config})
    folder = ctx.workdir / kind / key
    build = partial_folder(folder)
    with workdir_lock(ctx.workdir, log=ctx.log):
        if folder.is_dir():
            why, info = stage_record_problem(folder)
            if why is None and _jsonable(info.get("in_place") or {}) != _jsonable(in_place or {}):
                why = f"its settings changed ({_identity_text(info.get('in_place'), in_place)})"
            if why is None:
                ctx.log(f"{ctx.study.name}: {kind} reused ({folder})")
                return StageResult(kind, key, folder, "reused", info["seconds"], config)
            # a warning even with --quiet: something was damaged (or marked for a rerun)
            _log.warning(
                "%s: %s stage in %s: %s; running it again", ctx.study.name, kind, folder, why
            )
            if build.exists():  # both there only if someone copied folders by hand
                shutil.rmtree(build)
            os.rename(folder, build)  # unpublished at once; its files are reused on the rerun
            (build / STAGE_FILE).unlink(missing_ok=True)
        elif build.is_dir():
            ctx.log(f"{ctx.study.name}: {kind} resuming its interrupted run in {build}")
        build.mkdir(parents=True, exist_ok=True)
        atomic_write_text(build / "config.json", json.dumps(config, indent=1, default=str))
        ctx.log(f"{ctx.study.name}: {kind} running in {build}")
        t0 = time.perf_counter()
        body(build)
        seconds = time.perf_counter() - t0
        record = {
            "seconds": seconds,
            "config": config,
            "outputs": digests(build, _stage_outputs(build)),
        }
        if in_place:
            record["in_place"] = dict(in_place)
        atomic_write_text(build / STAGE_FILE, json.dumps(record, default=str))
        os.rename(build, folder)  # publish: one atomic step
        fsync_folder(folder.parent)
    return StageResult(kind, key, folder, "done", seconds, config)


def _jsonable(d: Mapping[str, Any]) -> Any:
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def _identity_text(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> str:
    return f"{json.dumps(old or {}, sort_keys=True)} -> {json.dumps(new or {}, sort_keys=True)}"


def _matrix_stage(ctx: StageContext) -> StageResult:
    from interp.study.matrix import run_matrix

    presets = ctx.study.register_presets()
    cfg = ctx.study.matrix_config(ctx.profile)
    files = {c: Path(f) for c, f in ctx.data_files.items() if c in cfg.chambers}
    config = {
        # the folder key: the fold-ensemble / TTA fields change no single-model run, so
        # they re-enter the finished matrix (in_place) rather than start a new one
        "matrix": cfg.single_model_dict(),
        "presets": {c: p for c, p in presets.items() if c in cfg.chambers and c not in files},
        "data_files": {c: _file_identity(f) for c, f in files.items()},
    }
    result = run_stage(
        "matrix",
        ctx,
        config,
        lambda folder: run_matrix(
            cfg, folder, files, progress=ctx.progress, rename_chamber=ctx.rename_chamber
        ),
        in_place={"techniques": cfg.technique_dict()} if cfg.technique_dict() else None,
    )
    pointer = {"folder": f"matrix/{result.key}", "study": ctx.study.name}
    atomic_write_text(ctx.workdir / LATEST_MATRIX_FILE, json.dumps(pointer, indent=1))
    return result


LATEST_MATRIX_FILE = "matrix/latest.json"
"""Pointer (``{"folder": "matrix/<key>", "study"}``, relative to the work directory) to the
matrix stage folder the last study run used or reused: the work directory's main matrix."""


def latest_matrix(workdir: str | Path) -> Path:
    """The matrix stage folder named by ``WORKDIR/matrix/latest.json``.

    Raises:
        ClusterDataError: No pointer (no study run here yet), or it names no folder.
    """
    from interp.core.errors import ClusterDataError

    path = Path(workdir) / LATEST_MATRIX_FILE
    if not path.is_file():
        raise ClusterDataError(str(path), None, "no matrix run in this work directory yet")
    try:
        folder = Path(workdir) / json.loads(path.read_text())["folder"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ClusterDataError(str(path), "folder", f"unreadable ({exc})") from exc
    if not folder.is_dir():
        raise ClusterDataError(str(path), "folder", f"names a missing folder {folder}")
    return folder


def _redo_without_static(kind: str, ctx: StageContext, config: dict[str, Any]) -> None:
    """Marks a finished figure stage for rerun when its figures lack PNG/PDF images.

    A stage that ran before static export worked (or with it failing) is otherwise reused
    forever; with static images wanted it is unpublished (renamed back to its private build
    folder, :func:`partial_folder`, its ``stage.json`` removed) so it runs again there.
    """
    import shutil

    from interp.core.locking import workdir_lock
    from interp.plots.output import missing_static

    folder = ctx.workdir / kind / config_key({"kind": kind, **config})
    if not ctx.png or not (folder / STAGE_FILE).is_file():
        return
    with workdir_lock(ctx.workdir, log=ctx.log):
        if missing_static(folder / "figures"):
            ctx.log(f"{ctx.study.name}: {kind} figures lack static images; running it again")
            build = partial_folder(folder)
            if build.exists():
                shutil.rmtree(build)
            os.rename(folder, build)
            (build / STAGE_FILE).unlink()


def _explain_stage(ctx: StageContext) -> StageResult:
    matrix = ctx.results.get("matrix")
    if matrix is None or matrix.status in ("missing", "failed"):
        return StageResult("explain", "", ctx.workdir, "missing", 0.0, {}, "no matrix stage")
    try:
        from interp.study.explain_stage import explain_run
    except ImportError as exc:
        reason = f"interp.study.explain_stage is not available ({exc})"
        return StageResult("explain", "", ctx.workdir, "missing", 0.0, {}, reason)
    ecfg = ctx.study.explain_config(ctx.profile)
    config = {"matrix_key": matrix.key, "explain": dataclasses.asdict(ecfg), "png": ctx.png}
    _redo_without_static("explain", ctx, config)
    return run_stage(
        "explain",
        ctx,
        config,
        lambda folder: explain_run(matrix.folder, folder / "figures", png=ctx.png, config=ecfg),
    )


def _data_stage(ctx: StageContext) -> StageResult:
    from interp.study.data_stage import run_data_study

    ctx.study.register_presets()
    dcfg = ctx.study.data_config(ctx.profile)
    config = {"data": dataclasses.asdict(dcfg), "png": ctx.png}
    _redo_without_static("data", ctx, config)
    return run_stage(
        "data",
        ctx,
        config,
        lambda folder: run_data_study(folder, dcfg, png=ctx.png, progress=ctx.progress),
    )


def _tracking_stage(ctx: StageContext) -> StageResult:
    """Physics impact of the matrix stage's classifiers (:mod:`interp.study.tracking_stage`)."""
    from interp.study.tracking_stage import TrackingConfig, run_tracking_stage

    matrix = ctx.results.get("matrix")
    if matrix is None or matrix.status == "missing":
        return StageResult("tracking", "", ctx.workdir, "missing", 0.0, {}, "no matrix stage")
    tcfg = dataclasses.asdict(TrackingConfig.profile(ctx.profile))
    config = {"matrix_key": matrix.key, "tracking": tcfg}
    return run_stage(
        "tracking",
        ctx,
        config,
        lambda folder: run_tracking_stage(matrix.folder, folder, ctx.profile, ctx.progress),
    )


def _finetune_stage(ctx: StageContext) -> StageResult:
    """Fine-tuning curves across chambers of the matrix stage's classifiers
    (:mod:`interp.study.finetune_stage`)."""
    from interp.study.finetune_stage import FineTuneConfig, run_finetune

    matrix = ctx.results.get("matrix")
    if matrix is None or matrix.status in ("missing", "failed"):
        return StageResult("finetune", "", ctx.workdir, "missing", 0.0, {}, "no matrix stage")
    fcfg = FineTuneConfig.profile(ctx.profile)
    config = {"matrix_key": matrix.key, "finetune": dataclasses.asdict(fcfg)}
    return run_stage(
        "finetune",
        ctx,
        config,
        lambda folder: run_finetune(matrix.folder, folder, fcfg, progress=ctx.progress),
    )


STAGES: dict[str, Callable[[StageContext], StageResult]] = {
    "data": _data_stage,
    "matrix": _matrix_stage,
    "explain": _explain_stage,
    "tracking": _tracking_stage,
    "finetune": _finetune_stage,
}
"""Stage kind -> runner. A new stage kind is one function and one entry here."""


def run_study(ctx: StageContext) -> dict[str, StageResult]:
    """Runs every stage of ``ctx.study`` in order; returns kind -> result.

    A stage that raises anything but :class:`~interp.core.errors.TPCInterpError` (bad input, which
    propagates) is recorded as ``failed`` with the exception as its reason, and the next
    stages still run (those that need it report themselves ``missing``).
    """
    for kind in ctx.study.stages:
        try:
            ctx.results[kind] = STAGES[kind](ctx)
        except TPCInterpError:
            raise
        except Exception as exc:
            reason = f"{kind} stage failed: {type(exc).__name__}: {exc}"
            ctx.log(f"{ctx.study.name}: {reason}")
            ctx.results[kind] = StageResult(kind, "", ctx.workdir, "failed", 0.0, {}, reason)
    return ctx.results


def failed_stages(runs: Any) -> list[str]:
    """``"<study>/<stage>: <reason>"`` for every failed stage of ``[(study, results)]``."""
    return [
        f"{study.name}/{kind}: {r.reason}"
        for study, results in runs
        for kind, r in results.items()
        if r.status == "failed"
    ]


# ----------------------------------------------------------------------------------- own files
def simulate_command(chamber: str, matrix_config: Any, out: str | Path) -> list[str]:
    """The ``tpc-interp simulate`` arguments that write exactly the built-in data of a chamber.

    Passing the file back with ``--data CHAMBER=FILE`` gives the same numbers as the built-in
    simulator run: same clusters (the pipeline's per-chamber seed), same event-wise splits
    (saved beside the file with the config's fractions and seed).
    """
    from interp.study.inputs import chamber_seed

    cfg = matrix_config
    args = [
        "simulate",
        "--chamber",
        chamber,
        "--events",
        str(cfg.n_events),
        "--seed",
        str(chamber_seed(chamber, cfg.seed)),
        "--fractions",
        ",".join(str(f) for f in cfg.fractions),
        "--split-seed",
        str(cfg.seed),
        "--out",
        str(out),
    ]
    if cfg.clusters_per_event is not None:
        args[-2:-2] = ["--clusters-per-event", str(cfg.clusters_per_event)]
    return args
