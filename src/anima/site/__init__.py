"""The browser application assembled: the page router, the workspace frame, the first pages.

``anima.web`` is the browser layer every package's pages build on and depends on no domain;
this package sits above the domains and puts the pages together: :mod:`anima.site.router`
collects every ``PAGE_HANDLERS``, :mod:`anima.site.frame` provides the workspace frame (``ws``)
from identity, tenancy and the practice settings, and the dashboard and public pages live here.
"""
