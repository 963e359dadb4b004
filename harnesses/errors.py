"""The one error type whose message is meant for the agent: what failed, the bad value,
and the valid choices or the tool to use instead. The MCP layer turns it into a tool error."""


class BenchdockError(ValueError):
    pass
