"""plugins/strategy/mitogen_linear.py, the strategy ansible.cfg selects: Mitogen's mixin over Ansible's linear
strategy, or Ansible's linear strategy alone (with a warning) where mitogen is not installed."""

import configparser
import sys

import ansible.plugins.strategy.linear as linear

from script_loader import ROOT, load_script

PLUGIN = "plugins/strategy/mitogen_linear.py"


def test_ansible_cfg_selects_the_plugin_from_this_repository():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "ansible.cfg")
    assert cfg["defaults"]["strategy"] == "mitogen_linear"
    assert (ROOT / cfg["defaults"]["strategy_plugins"] / "mitogen_linear.py").is_file()


def test_with_mitogen_modules_run_in_its_interpreter():
    import ansible_mitogen.strategy

    module = load_script(PLUGIN, "strategy_with_mitogen")
    assert issubclass(module.StrategyModule, ansible_mitogen.strategy.StrategyMixin)
    assert issubclass(module.StrategyModule, linear.StrategyModule)


def test_without_mitogen_it_is_the_linear_strategy_and_says_so(monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "ansible_mitogen" or m.startswith("ansible_mitogen.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ansible_mitogen", None)  # import fails as if not installed
    module = load_script(PLUGIN, "strategy_without_mitogen")
    assert module.StrategyModule is linear.StrategyModule
    assert "mitogen is not installed" in capsys.readouterr().err
