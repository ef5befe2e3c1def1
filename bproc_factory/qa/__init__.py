"""Dataset quality assurance: validation, statistics, parameter tables, reports and contact sheets."""
