"""The shared layer below the domain packages.

``spinestab.core`` holds what every domain (imaging, instability, wearable, clinical, care)
needs and none owns: the vertebral level vocabulary (:mod:`~spinestab.core.levels`),
translated text (:mod:`~spinestab.core.i18n`), uniform value checks
(:mod:`~spinestab.core.validation`) and the result types shared between domains
(:mod:`~spinestab.core.results`). It imports nothing of spinestab except
:mod:`spinestab.errors` and :mod:`spinestab.settings`; the domains import it and their own
insides only (``tests/test_layering.py`` holds the rule).

Import the modules themselves (``from spinestab.core.levels import normalise_level``):
this package's ``__init__`` imports nothing, so importing one part loads no other.
"""
