"""zoo's built-in components, registered through the ``zoo`` entry-point group like any plugin.

The import name starts with an underscore (as pytest's ``_pytest`` does) so that it cannot
collide with a distribution in site-packages; nothing outside this package imports it.
"""
