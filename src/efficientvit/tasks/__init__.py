"""Each task's pre- and post-processing, in one module per task.

The inference API (:mod:`efficientvit.inference`, :mod:`efficientvit.sam`), the evaluation loop
(:mod:`efficientvit.train.tasks`) and the exported graphs (:mod:`efficientvit.runtime`) all call these
functions, so an image goes through exactly the same steps whichever way it is run.
"""
