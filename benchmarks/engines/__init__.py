"""The engine processes the harness launches, one module per engine.

Modules here import only the standard library at package level, because ``quix.py`` runs in
its own virtualenv where neither streamlet nor the harness's dependencies are installed.
"""
