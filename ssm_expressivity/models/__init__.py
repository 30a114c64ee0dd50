"""models of ssm_expressivity."""
