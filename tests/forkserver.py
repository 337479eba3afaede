"""Fork server: many short Python programs sharing one slow start-up (tests).

A fresh interpreter here spends ~4 s importing JAX, the library and scikit-learn before a
test program does anything. A :class:`ForkServer` is one Python subprocess that imports
``preload`` once and then, per :meth:`ForkServer.run`, forks a child that runs a program as
``python -c CODE ARGS`` would: ``sys.argv``, ``__name__ == "__main__"``, its own environment
additions and working folder, its own stdout and stderr (files, read back), stdin
``/dev/null``. The exit status is the child's, ``os._exit(86)`` of
``TPC_INTERP_ABORT_AFTER_WRITES`` included (no clean-up runs, as in a fresh process). A child
never shares state with another child: each is a copy of the server just after its imports.
The imports must not start JAX's runtime (the server refuses to fork once a JAX backend
exists), so every child starts its own, as a fresh process does. Environment variables read
at import time (``JAX_PLATFORMS``) belong in the server's ``env``; :meth:`ForkServer.run`'s
``env`` is for variables read later.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path

SERVER = r"""
import importlib, json, os, signal, sys, traceback
reply = os.fdopen(os.dup(1), "w")  # the replies; anything else printed goes to stderr
os.dup2(2, 1)
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
from jax._src import xla_bridge
for line in sys.stdin:
    req = json.loads(line)
    if xla_bridge._backends:
        reply.write(json.dumps({"error": "a preload import started a JAX backend"}) + "\n")
        reply.flush()
        continue
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(req["timeout"])
            if req["fsize_limit"] is not None:  # writes past it fail with EFBIG (a full disk)
                import resource
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
                resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize_limit"],) * 2)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for fd, path in ((1, req["stdout"]), (2, req["stderr"])):
                os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
            reply.close()
            os.chdir(req["cwd"])
            sys.stdin = open(os.devnull)
            os.environ.update(req["env"])
            sys.argv = ["-c", *req["argv"]]
            try:
                exec(compile(req["code"], "<string>", "exec"), {"__name__": "__main__"})
                code = 0
            except SystemExit as e:
                if e.code is None or isinstance(e.code, int):
                    code = e.code or 0
                else:
                    print(e.code, file=sys.stderr)
            except BaseException:
                traceback.print_exc()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    reply.write(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}) + "\n")
    reply.flush()
"""


class ForkServer:
    """One preloaded Python process that runs programs in forked children, one at a time.

    Args:
        preload: Module names to import once, in the server (not JAX computations).
        env: The server's (and so every child's) environment.
        cwd: The server's working folder.
    """

    def __init__(self, preload: Iterable[str], env: Mapping[str, str], cwd: Path) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, json.dumps(list(preload))],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._cwd = cwd
        self._lock = threading.Lock()
        self._tmp = tempfile.TemporaryDirectory(prefix="forkserver-")

    def run(
        self,
        code: str,
        argv: list[str],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        timeout: int = 300,
        fsize_limit: int | None = None,
    ) -> subprocess.CompletedProcess:
        """Runs ``code`` as ``python -c code *argv`` in a fresh child; waits for it.

        Args:
            code: The program's source.
            argv: Its arguments (``sys.argv[1:]``).
            env: Environment variables added in the child (read after start-up).
            cwd: The child's working folder (default: the server's).
            timeout: Seconds; the child is killed by ``SIGALRM`` after them (status -14).
            fsize_limit: Bytes: the child's ``RLIMIT_FSIZE`` (``SIGXFSZ`` ignored), so every
                write past it fails with ``EFBIG``, as on a full disk; ``None``: no limit.

        Returns:
            ``returncode``, ``stdout`` and ``stderr`` (text) of the child.

        Raises:
            RuntimeError: The server died or refused to fork (its preload started JAX).
        """
        with self._lock:
            out, err = Path(self._tmp.name, "stdout"), Path(self._tmp.name, "stderr")
            req = {"code": code, "argv": argv, "env": dict(env or {}), "timeout": timeout}
            req["cwd"] = str(cwd if cwd is not None else self._cwd)
            req["fsize_limit"] = fsize_limit
            req |= {"stdout": str(out), "stderr": str(err)}
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.write(json.dumps(req) + "\n")
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
            if not line:
                raise RuntimeError(f"fork server exited with status {self._proc.wait()}")
            reply = json.loads(line)
            if "error" in reply:
                raise RuntimeError(f"fork server: {reply['error']}")
            return subprocess.CompletedProcess(
                ["-c", *argv], reply["returncode"], out.read_text(), err.read_text()
            )

    def close(self) -> None:
        """Ends the server (its stdin closes) and removes its output files."""
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._tmp.cleanup()

    def __enter__(self) -> ForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
