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
# # Bringing your own ROOT file
#
# Your clusters need three branches: `charge` (float32[11][20] per cluster, ADC, centred on the
# cluster maximum), `label` (0 noise / 1 signal) and `event_id`. Here we build such a file with
# plain uproot, as a conversion script would, then read, validate, inspect and split it with
# the toolkit. (Set `TPC_INTERP_PROFILE=smoke` for a fast run.)

# %%
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import uproot

from interp.core.errors import ClusterDataError
from interp.core.schema import ClusterSet
from interp.data.io import iter_clusters, read_clusters, read_info, write_clusters
from interp.data.simulator import simulate
from interp.data.splits import make_splits, splits_path_for
from interp.data.summary import format_summary, summarise

SMOKE = os.environ.get("TPC_INTERP_PROFILE") == "smoke"
workdir = Path(tempfile.mkdtemp(prefix="tpc_byo_"))

# %% [markdown]
# ## 1. "Your" data: arrays from an experiment's own software
# We stand in for it with simulated MTPCL clusters, dropping the simulator truth.

# %%
sim = simulate("MTPCL", 3, seed=7, n_clusters=2000 if SMOKE else 10000)
charge, label, event_id = sim.charge, sim.label.astype(np.int32), sim.event_id

# %% [markdown]
# ## 2. Write them to ROOT with uproot, as a converter would

# %%
mine = workdir / "my_clusters_raw.root"
with uproot.recreate(mine) as f:
    f.mktree(
        "clusters", {"charge": (np.float32, (11, 20)), "label": np.int32, "event_id": np.int64}
    )
    f["clusters"].extend({"charge": charge, "label": label, "event_id": event_id})
print(mine, mine.stat().st_size // 1024, "kB")

# %% [markdown]
# ## 3. Validate into the toolkit's schema
# `ClusterSet.from_columns` checks shapes, dtypes, NaNs and labels, and names the file and
# field in any error.

# %%
arrays = uproot.open(f"{mine}:clusters").arrays(["charge", "label", "event_id"], library="np")
cs = ClusterSet.from_columns(arrays, chamber="MTPCL", source=str(mine))
print(format_summary(summarise(cs)))

# %% [markdown]
# A broken conversion gives a clear error, for example labels stored as 1/2:

# %%
try:
    ClusterSet.from_columns({**arrays, "label": arrays["label"] + 1}, "MTPCL", source=str(mine))
except ClusterDataError as err:
    print("error:", err)

# %% [markdown]
# ## 4. Save in the toolkit's ROOT layout (with chamber metadata), stream it back, split it

# %%
path = write_clusters(cs, workdir / "MTPCL.root")
print(json.dumps({k: str(v) for k, v in read_info(path).items()}, indent=1))
n = sum(len(chunk) for chunk in iter_clusters(path, chunk_size=4096))
assert n == len(cs)
splits = make_splits(read_clusters(path), (0.34, 0.33, 0.33), seed=0)
splits.save(splits_path_for(path))
print({k: v["clusters"] for k, v in splits.counts.items()})

# %% [markdown]
# The same file now works with every command, e.g. `tpc-interp inspect MTPCL.root`.
