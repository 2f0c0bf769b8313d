"""The weekly digest: the one email leadership reads (issue 9).

Modules: ``weeks`` (ISO weeks in the digest's zone, which week is due), ``figures`` (the week's SQL
aggregates; ``business`` for first-response percentiles, ``risk`` for at-risk customers), ``i18n`` and
``render`` (subject, HTML with inlined CSS, plain text; catalogs and templates in
``templates/digest/``), ``charts`` (PNG via matplotlib, imported only when a chart is drawn), ``send`` (the
week's row claimed once, messages enqueued; ``run_due_digest`` for the scheduler), ``views`` (the API and
the browser page) and ``schemas``. Importing this package imports none of them.
"""
