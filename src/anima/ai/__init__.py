"""AI insights: the local multilingual risk detector (:mod:`.risk`), the Gemini client
(:mod:`.gemini`), the one-hour analysis cache (:mod:`.cache`), the observatory that analyses a
patient's recent journal (:mod:`.observatory`) and the worker job functions (:mod:`.jobs`)."""
