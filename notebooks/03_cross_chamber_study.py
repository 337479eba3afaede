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
# # The cross-chamber study
#
# Does a model trained on one chamber work on the other without retraining? The talk found
# the perceptron nearly unaffected (89.4 % -> 89.0 %) and the deeper models losing 1-2.5
# points. Here we run the same train-on-one / test-on-both matrix on simulated data and put
# the toolkit's numbers (with 95 % event-bootstrap intervals) beside the published ones.
#
# `TPC_INTERP_PROFILE=smoke` trains the perceptron and XGBoost on tiny data; `quick` and
# `full` are the study profiles (`tpc-interp reproduce cross_chamber` runs all four models).

# %%
import os
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from interp.core.published import citation, published_accuracy
from interp.report.accuracy_bars import accuracy_bars
from interp.report.markdown import table_md
from interp.report.sections import SectionInput, cross_chamber
from interp.study.config import MatrixConfig
from interp.study.matrix import run_matrix

PROFILE = os.environ.get("TPC_INTERP_PROFILE", "quick")
WORKDIR = Path(os.environ.get("TPC_INTERP_WORKDIR", "out/notebooks")) / f"03_{PROFILE}"
SMOKE = PROFILE == "smoke"
models = ("perceptron", "xgboost") if SMOKE else ("perceptron", "split_conv", "xgboost")
config = MatrixConfig.from_profile(PROFILE, models=models, n_boot=200)

# %% [markdown]
# ## Run the matrix (finished cells are reused)

# %%
result = run_matrix(config, WORKDIR, progress=False)
print(f"{len(result['cells'])} cells in {result['total_seconds']:.0f} s")

# %% [markdown]
# ## Toolkit versus published
# The report's own table renderer, reading the `matrix.json` just written.

# %%
section = cross_chamber(SectionInput("nb03", {"matrix": WORKDIR}, {}, WORKDIR / "figures"))
for table in section.tables:
    print(table_md(table), end="\n\n")
print("Published:", citation())

# %%
accuracy_bars(result, diagonal=False).show()

# %% [markdown]
# ## How much is lost by changing chamber?
# Accuracy on the other chamber minus accuracy on the training chamber, in points; the
# published drop beside it where the talk gives both numbers.

# %%
chambers = list(config.chambers)
rows, labels, drops = [], [], []
for cell in result["cells"]:
    c = cell["train_chamber"]
    own = cell["evaluations"][c]["at_0.5"]["metrics"]["accuracy"]["value"]
    for t in chambers:
        if t == c:
            continue
        other = cell["evaluations"][t]["at_0.5"]["metrics"]["accuracy"]["value"]
        p_own, p_other = (
            published_accuracy(cell["model"], c, c),
            published_accuracy(cell["model"], c, t),
        )
        pub = "n/a" if None in (p_own, p_other) else f"{100 * (p_other - p_own):+.1f}"
        print(
            f"{cell['model']:<11s} {c} -> {t}: {100 * (other - own):+.1f} points (published {pub})"
        )
        labels.append(f"{cell['model']} {c}->{t}")
        drops.append(100 * (other - own))
fig = go.Figure(go.Bar(x=labels, y=np.round(drops, 2)))
fig.update_layout(title="Cross-chamber change in accuracy (points)", template="plotly_white")
fig.show()
