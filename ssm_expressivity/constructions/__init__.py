"""constructions of ssm_expressivity."""
