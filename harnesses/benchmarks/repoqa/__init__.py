"""RepoQA's Searching Needle Function task: RepoQA's own data online, benchdock's local
construction offline, RepoQA's prompt and matcher (see `benchmark.py`)."""
