"""The bot's domain wired to a simulator: client, executor, positions, reconciler."""
from __future__ import annotations

from krakenbot.client import KrakenClient
from krakenbot.clock import ManualClock
from krakenbot.execution import Executor, Reconciler
from krakenbot.positions import PositionManager
from krakenbot.store import Store
from krakensim import KrakenSimulator


class Rig:
    def __init__(self, sim: KrakenSimulator, clock: ManualClock, store: Store) -> None:
        self.sim, self.clock, self.store = sim, clock, store
        self.client = KrakenClient(sim.url, sim.api_key, sim.api_secret, clock=clock)
        pairs = self.client.market.asset_pairs()
        self.pairs = {n: info for info in pairs.values() for n in (info.name, info.altname, info.wsname)}
        self.executor = Executor(self.client, store, clock, self)
        self.positions = PositionManager(store, self)
        self.reconciler = Reconciler(self.client, store, self.positions, executor=self.executor)

    def pair_rules(self, name: str):
        return self.pairs[name]

    pair_info = pair_rules  # the rig is the executor's PairRules

    def sim_orders_by_cl_ord_id(self, cl_ord_id: str) -> list[dict]:
        return [o for o in self.sim.orders() if o.get("cl_ord_id") == cl_ord_id]
