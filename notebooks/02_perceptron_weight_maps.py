# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The perceptron's weight maps across chambers
#
# The perceptron is one dense layer from the 11 x 20 charge window (pads x time bins) to two
# output neurons, "noise" and "signal": 442 parameters. Each neuron's weights *are* a picture
# over the window, so the model can be read directly. Here we train it on each chamber
# (VTPC2 inside the magnet, MTPCL outside), draw both neurons' maps and their difference, and
# compare the maps of the two chambers.
#
# `TPC_INTERP_PROFILE` picks the data size (`smoke`: seconds; `quick`: the README's profile);
# `TPC_INTERP_WORKDIR` the folder (finished runs are reused on a second execution).

# %%
import os
from pathlib import Path

import numpy as np

from interp.backends.classifier import load_classifier
from interp.data.simulator import simulate
from interp.explain.attribution import attributions
from interp.explain.rule import region_masks
from interp.plots import weights as fw
from interp.study.config import MatrixConfig
from interp.study.matrix import run_matrix

PROFILE = os.environ.get("TPC_INTERP_PROFILE", "quick")
WORKDIR = Path(os.environ.get("TPC_INTERP_WORKDIR", "out/notebooks")) / f"02_{PROFILE}"
config = MatrixConfig.from_profile(PROFILE, models=("perceptron",), n_boot=100)
print(config.n_events, "events x", config.clusters_per_event, "clusters per chamber")

# %% [markdown]
# ## Train on each chamber (or reuse the runs), test on both

# %%
result = run_matrix(config, WORKDIR, progress=False)
for cell in result["cells"]:
    accs = {
        t: ev["at_0.5"]["metrics"]["accuracy"]["value"] for t, ev in cell["evaluations"].items()
    }
    print(
        f"trained on {cell['train_chamber']}: "
        + ", ".join(f"test {t} {100 * a:.1f} %" for t, a in accs.items())
    )

# %% [markdown]
# ## The two output neurons and their difference
# The decision depends only on `signal - noise`: positive weights push a cluster towards
# "signal". Expect a compact positive core at the window centre (a track's charge cloud) and
# negative weights along the pad row and time line through it (cross-talk lines, hot pads).

# %%
kernels = {}
for chamber in config.chambers:
    clf = load_classifier(WORKDIR / "runs" / "perceptron" / chamber)
    kernels[chamber] = np.asarray(clf.params["dense"]["kernel"])
    window = tuple(clf.window)
fig = fw.perceptron_heatmap_figure(kernels["VTPC2"], window, "Perceptron weights, VTPC2")
fig.show()

# %% [markdown]
# ## Same map, two chambers
# MTPCL clusters are wider (longer drift, no field), so its signal core should spread over
# more pads.

# %%
diff_maps = {c: fw.perceptron_maps(k, window)["signal - noise"] for c, k in kernels.items()}
fw.chamber_comparison_figure(diff_maps).show()

# %% [markdown]
# ## In numbers: mean weight per region, and how alike the two maps are

# %%
masks = region_masks(window)
for chamber, wd in diff_maps.items():
    peak = np.unravel_index(wd.argmax(), wd.shape)
    print(
        f"{chamber}: peak at (pad, time) {tuple(int(v) for v in peak)}; "
        + ", ".join(f"mean {r} {wd[m].mean():+.3f}" for r, m in masks.items())
    )
a, b = (diff_maps[c].ravel() for c in config.chambers)
print(f"correlation of the two chambers' maps: {np.corrcoef(a, b)[0, 1]:.2f}")

# %% [markdown]
# ## The notebook API: score raw ADC, apply the operating point, explain
# Everything below takes raw ADC windows; the model folder holds the fitted preprocessing and
# the validation operating point (`clf.threshold`, at most 5 % of validation signal lost).

# %%
charge_adc = simulate("VTPC2", 1, seed=99, n_clusters=200).charge
clf = load_classifier(WORKDIR / "runs" / "perceptron" / "VTPC2")
p_signal = clf.predict_proba(charge_adc)
print(f"threshold {clf.threshold:.3f}: {np.mean(p_signal >= clf.threshold):.1%} called signal")
weights = clf.weight_map()["signal - noise"]
ig = attributions(clf, charge_adc[:16], method="integrated_gradients")
print("weight map", weights.shape, "| IG maps", ig.shape, "sum of first", f"{ig[0].sum():+.2f}")
