"""Attribution (stage "use"): touchpoints, journeys and windows in SQL; models on top.

``model`` defines the one model interface and the registry the built-in models use too.
"""
