"""IFEval (Google's instruction-following eval): its 541 prompts, lm-eval's port of Google's checkers."""
