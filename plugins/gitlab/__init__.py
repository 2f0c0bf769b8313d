"""GitLab: issue and work-item state changes (fixed, won't fix, reopened) for bug follow-ups."""
