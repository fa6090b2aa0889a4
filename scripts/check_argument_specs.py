"""Check that every role's meta/argument_specs.yml matches its defaults/main.yml.

An internal role without defaults/main.yml (roles/_common) must take every input explicitly:
every option of every entry point is required.

Every default must be a documented option and every option with a default must be
in defaults/main.yml with that value (templated defaults, such as the rollback
role's fallbacks to the upgrade role's settings, are compared by name only).

Every role has a README.md (Galaxy refuses a collection whose role has none) that names
each entry point other than main and each option of each entry point in backquotes.

The venv entries of the rollback and drill roles (their lists default to upgrade_venvs) accept every
key an upgrade_venvs entry has.
Exits 1 listing each mismatch.
"""

import glob
import os
import sys

import yaml

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []
for role in sorted(glob.glob(os.path.join(root, "roles", "*"))):
    name = os.path.basename(role)
    with open(os.path.join(role, "meta", "argument_specs.yml")) as fh:
        specs = yaml.safe_load(fh)["argument_specs"]
    if not os.path.exists(os.path.join(role, "README.md")):
        problems.append("%s: no README.md" % name)
    else:
        with open(os.path.join(role, "README.md")) as fh:
            readme = fh.read()
        for entry, spec in specs.items():
            names = list(spec.get("options", {})) + ([] if entry == "main" else [entry])
            problems.extend("%s: README.md does not name %s" % (name, key) for key in names
                            if "`%s`" % key not in readme)
    if not os.path.exists(os.path.join(role, "defaults", "main.yml")):
        # an internal role (_common): no defaults, every input of every entry point explicit
        for entry, spec in specs.items():
            for key, option in spec.get("options", {}).items():
                if not option.get("required"):
                    problems.append("%s: %s option %s is not required, and the role has no defaults" % (name, entry, key))
                if not key.startswith(name + "_"):
                    problems.append("%s: option %s lacks the role prefix %s_" % (name, key, name))
        continue
    with open(os.path.join(role, "defaults", "main.yml")) as fh:
        defaults = yaml.safe_load(fh) or {}
    options = specs["main"]["options"]
    for key, value in defaults.items():
        if key not in options:
            problems.append("%s: default %s is not in argument_specs" % (name, key))
        elif "{{" not in str(value) and options[key].get("default", "<none>") != value:
            problems.append("%s: %s defaults to %r but argument_specs says %r"
                            % (name, key, value, options[key].get("default", "<none>")))
    for key, spec in options.items():
        if key not in defaults and not spec.get("required"):
            problems.append("%s: option %s has no default in defaults/main.yml" % (name, key))
        if not key.startswith(name + "_"):
            problems.append("%s: option %s lacks the role prefix %s_" % (name, key, name))
# Roles whose venv list defaults to upgrade_venvs take the same entries: each must accept every key
# of an upgrade_venvs entry (the argument spec validation refuses a key it does not know).
venv_lists = {"rollback": "rollback_venvs", "drill": "drill_venvs"}


def entry_keys(role, option):
    with open(os.path.join(root, "roles", role, "meta", "argument_specs.yml")) as fh:
        return set(yaml.safe_load(fh)["argument_specs"]["main"]["options"][option].get("options", {}))


upgrade_keys = entry_keys("upgrade", "upgrade_venvs")
for role, option in sorted(venv_lists.items()):
    keys = entry_keys(role, option)
    if keys:  # no sub-options at all accepts every key
        problems.extend("%s: %s entries do not accept %s, a key of upgrade_venvs" % (role, option, key)
                        for key in sorted(upgrade_keys - keys))
for line in problems:
    print(line)
sys.exit(1 if problems else 0)
