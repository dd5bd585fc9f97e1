"""Account pages of the browser: signup with a plan, email verification and password reset.

A sub-area of :mod:`anima.identity` with its own templates (``templates/account/``) and
translations (``locales/``); the services it calls live in :mod:`anima.identity`.
"""
