"""Study layer: the train/evaluate matrix, the declarative experiments and their stages
(data, explain, tracking) that write a work directory."""
