"""Complaints and churn-risk signals in English and Chinese, with the evidence an agent can check.

``tagger``: rule packs (``rules/*.toml``) compiled into one Aho-Corasick automaton; ``tag(text)`` per text.
``step``: the ingest step that re-tags a ticket from its current text. ``risk``: the at-risk customer rule.
``views``: the API (agent override, at-risk customers). ``evaluate``: precision and recall on a labeled set.
"""
