"""Reports from run directories: HTML, Markdown, PNG/PDF figures and LaTeX tables.

Reports read only the run store (docs/run-store.md) and never run a model, so an old run
can be re-rendered on a machine without a GPU. Entry points:

* :func:`hbench.reports.build.build_report` ``(run_dirs, out_dir) -> index.html`` writes
  everything; :mod:`hbench.reports.cli` is ``hbench report RUN [RUN ...] --out DIR``.
* One function per artifact, each ``(run_dirs, out_dir) -> Path``:
  :func:`~hbench.reports.html.html_report`, :func:`~hbench.reports.markdown.markdown_summary`,
  :func:`~hbench.reports.markdown.latex_tables`, the figures in
  :mod:`hbench.reports.figures` and :func:`~hbench.reports.grids.image_grid`.
* :func:`hbench.reports.summary.summary_text` ``(run_dir) -> str`` for terminals.

Output layout: ``index.html`` (self-contained: figures as data URIs, a CSP that allows no
script), ``summary.md``, ``figures/<name>.png|pdf``, ``tables/<key>.tex`` (booktabs). The
same runs give the same bytes.
"""
