"""HTTP face of the AI observatory (the logic lives in :mod:`anima.ai`)."""
