"""The browser layer shared by every domain: templates, static files, catalogs, cookie sessions, CSRF.

Pages are server-rendered by the same Litestar application as the JSON API and call the same
domain services. Each domain may bring ``pages.py`` (its ``PAGE_HANDLERS``), ``templates/<domain>/``
and ``locales/<lang>.po``; :mod:`anima.site.router` collects them, so adding a domain's pages never
edits a central list.
"""
