"""Package discovery for the ``hbench.*`` namespace mapping (see DESIGN.md).

The top-level folders harness/, worlds/, tasks/, baselines/, kernels/ and reports/ install as
``hbench.<folder>``; setuptools' ``find`` cannot prefix names, so subpackages are listed here.
"""

from setuptools import find_packages, setup

LAYERS = ("harness", "worlds", "tasks", "baselines", "kernels", "reports")

packages = ["hbench"]
package_dir = {"hbench": "hbench"}
for layer in LAYERS:
    packages.append(f"hbench.{layer}")
    package_dir[f"hbench.{layer}"] = layer
    for sub in find_packages(where=layer):
        packages.append(f"hbench.{layer}.{sub}")
        package_dir[f"hbench.{layer}.{sub}"] = f"{layer}/{sub.replace('.', '/')}"

setup(packages=packages, package_dir=package_dir)
