"""spinestab: personalized lumbar stability profiles and active-care plans.

spinestab supports clinical decisions; it does not diagnose.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
