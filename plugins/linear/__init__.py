"""Linear: issue state changes (fixed, won't fix, reopened) for bug follow-ups."""
