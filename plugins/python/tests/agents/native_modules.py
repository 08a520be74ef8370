"""An agent that uses C extension modules, which need libpython's symbols to be global."""

import _asyncio  # noqa: F401
import _json  # noqa: F401
import _socket  # noqa: F401
import _ssl  # noqa: F401
import decimal
import json
import math


class UsesNativeModules:
    def __init__(self, config):
        pass

    async def chat(self, content):
        total = decimal.Decimal("0.1") + decimal.Decimal("0.2")
        yield json.dumps({"sum": str(total), "sqrt2": round(math.sqrt(2), 3)})
