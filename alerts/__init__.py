"""The alert side, in Alertmanager's shape: ``router`` (the routing tree, label matchers, merging a
group), ``dispatch`` (route → group → outbox), ``notify`` (a stage chain per due group), the
receivers ``console`` and ``slack``, and ``base`` (the protocols it needs: Notifier, Outbox,
DeliveryPolicy). It imports only ``monitor.models`` and ``monitor.errors``: the store reaches it as
an ``Outbox``, the config as a ``DeliveryPolicy``.
"""
