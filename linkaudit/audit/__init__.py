"""audit: findings about links, offline (``findings``: tracking, duplicates, drift, broken
references, per note and per translation family) and online (``online``: one word per
link state from the check results and the history), ``local_links`` (missing files and
pages, dead #fragments, from the facts ``scan.site`` and ``scan.anchors`` give), and
``suppression``: the ``<!-- linkaudit-... -->`` comments and the config's ``ignore`` rules
applied to findings.

Entry points: ``findings.OfflineAudit``, ``findings.apply_policy``,
``local_links.LocalLinkAudit``, ``online.online_findings``, ``online.state_findings``.
"""
