"""Ansible's linear strategy run through Mitogen (PyPI `mitogen`, pinned in requirements.txt).

Mitogen keeps one Python interpreter per host and runs each module in it, where Ansible starts a new
interpreter, a temporary directory and an AnsiballZ archive for every task (about 0.4 s a task here).
ansible.cfg selects this strategy; `-e ansible_strategy=linear` or ANSIBLE_STRATEGY=linear run without it.
Without mitogen installed this is Ansible's own linear strategy, with a warning.
"""

try:
    import ansible_mitogen.loaders
    import ansible_mitogen.strategy
except ImportError:
    from ansible.plugins.strategy.linear import StrategyModule  # noqa: F401
    from ansible.utils.display import Display

    Display().warning("mitogen is not installed (pip install -r requirements.txt): Ansible's linear strategy runs")
else:
    class StrategyModule(ansible_mitogen.strategy.StrategyMixin,
                         ansible_mitogen.loaders.strategy_loader.get("linear", class_only=True)):
        """The linear strategy, with modules run in Mitogen's per-host interpreter."""
