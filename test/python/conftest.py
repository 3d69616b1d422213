"""pytest configuration for test/python.

- registers the `slow` marker (deselect with `-m "not slow"`; slow tests run
  by default);
- prints a summary of the end-to-end model tests (test_e2e_models.py) at the
  end of the run: outcome, llmc wall time and error per model.
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a long-running test (runs by default; deselect with "
        "-m 'not slow')")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # test_e2e_models.py appends one line per model to this list.
    lines = getattr(config, "llmc_e2e_results", None)
    if not lines:
        return
    terminalreporter.section("llmc end-to-end models")
    for line in lines:
        terminalreporter.write_line(line)
