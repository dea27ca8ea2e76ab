"""Recognizers for identifiers used everywhere (Presidio's, tightened for mixed-script text).

Class names carry a ``Cg`` prefix: Presidio's registry finds recognizer classes
by name among all subclasses, so a subclass named like Presidio's own would
replace it inside any stock ``AnalyzerEngine`` in the same process.
"""
