"""BFCL, the Berkeley Function Calling Leaderboard, run by bfcl-eval itself."""
