"""Quality of a dataset: validation against the contract, the HTML report, parameter tables and
the comparison with a real camera's images."""
from bproc_factory.facade import facade

__all__, __getattr__, __dir__ = facade(__name__, {
    "compare": ["compare_with_dataset"],
    "report": ["build_report"],
    "sheets": ["grid", "instance_tile", "overlay"],
    "table": ["build_tables", "write_table", "write_tables"],
    "validation": ["validate"],
})
