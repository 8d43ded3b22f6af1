"""The kernel's devices by name, kept from netlink's values (pure: events in, changed devices out)."""

import ipaddress

import pytest

from ddns_edge.addresses import IFA_F_PERMANENT, IFA_F_TENTATIVE
from ddns_edge.devices import Change, View
from ddns_edge.model import Address, AddressChange, Device, Link, LinkGone


def link(index, name, up=True):
    return Link(index, name, up)


def addr(index, text, flags=IFA_F_PERMANENT, gone=False, preferred=0xFFFFFFFF):
    return AddressChange(index, Address(ipaddress.ip_address(text), 64 if ":" in text else 24, flags, preferred), gone)


def texts(view, name):
    got = view.device(name)
    return None if got is None else sorted(str(a.address) for a in got.addresses)


def test_addresses_follow_new_and_del():
    v = View()
    assert v.apply(link(3, "wan0")) == Change("wan0", came_up=True)  # new, and up
    assert v.apply(addr(3, "198.51.100.2")) == Change("wan0")
    assert v.apply(addr(3, "198.51.100.2")) is None  # a refresh changes nothing
    assert texts(v, "wan0") == ["198.51.100.2"]
    assert v.apply(addr(3, "198.51.100.2", gone=True)) == Change("wan0")
    assert texts(v, "wan0") == []
    assert v.apply(addr(3, "198.51.100.9", gone=True)) is None  # unknown: nothing changed


def test_device_recreated_with_a_new_index_is_followed_by_name():
    v = View()
    v.apply(link(3, "pppoe-wan"))
    v.apply(addr(3, "198.51.100.2"))
    assert v.apply(LinkGone(3)) == Change("pppoe-wan")
    assert v.device("pppoe-wan") is None
    v.apply(link(7, "pppoe-wan"))
    assert v.apply(addr(7, "198.51.100.3")) == Change("pppoe-wan")
    assert texts(v, "pppoe-wan") == ["198.51.100.3"]


def test_a_rename_is_a_change_of_the_new_name():
    v = View()
    v.apply(link(3, "eth1"))
    assert v.apply(link(3, "wan0")) == Change("wan0")
    assert v.device("eth1") is None and v.device("wan0") == Device("wan0", True, ())


def test_ipv6_flag_transitions_are_changes():
    v = View()
    v.apply(link(3, "wan0"))
    assert v.apply(addr(3, "2001:db8::2", IFA_F_TENTATIVE)) == Change("wan0")
    assert v.apply(addr(3, "2001:db8::2", IFA_F_PERMANENT)) == Change("wan0")  # DAD done
    assert v.apply(addr(3, "2001:db8::2", IFA_F_PERMANENT, preferred=0)) == Change("wan0")  # deprecated
    assert v.apply(addr(3, "2001:db8::2", IFA_F_PERMANENT, preferred=0)) is None  # still deprecated


def test_link_up_and_down_are_changes_and_a_link_that_came_up_says_so():
    v = View()
    assert v.apply(link(3, "wan0", up=False)) == Change("wan0")  # new, but down
    assert v.apply(link(3, "wan0", up=True)) == Change("wan0", came_up=True)
    assert v.apply(link(3, "wan0", up=True)) is None
    assert v.apply(link(3, "wan0", up=False)) == Change("wan0")
    assert v.device("wan0").up is False


def test_other_devices_are_kept_apart():
    v = View()
    v.apply(link(2, "lan"))
    v.apply(link(3, "wan0"))
    assert v.apply(addr(2, "192.168.1.1")) == Change("lan")
    assert texts(v, "wan0") == []
    assert v.apply(addr(9, "192.0.2.1")) is None  # an address on a device not seen: no name to report


def test_reset_reports_only_devices_that_differ():
    v = View()
    v.reset([link(2, "lan"), link(3, "wan0"), addr(2, "192.168.1.1"), addr(3, "198.51.100.2")])
    changed = v.reset([link(2, "lan"), link(3, "wan0"), addr(2, "192.168.1.1"), addr(3, "198.51.100.7")])
    assert changed == {Change("wan0")}
    assert texts(v, "wan0") == ["198.51.100.7"]
    assert v.reset([link(2, "lan"), addr(2, "192.168.1.1")]) == {Change("wan0")}  # gone


@pytest.mark.parametrize("after, differs", [
    ([addr(3, "2001:db8::2"), addr(3, "198.51.100.2")], False),  # the same, in another order
    ([addr(3, "198.51.100.2"), addr(3, "2001:db8::2", preferred=3000)], False),  # only a lifetime moved
    ([addr(3, "198.51.100.2"), addr(3, "2001:db8::2", preferred=0)], True),  # deprecated now
    ([addr(3, "198.51.100.2"), addr(3, "2001:db8::2", flags=IFA_F_TENTATIVE)], True),  # other flags
    ([addr(3, "198.51.100.2")], True),  # one gone
    ([addr(3, "198.51.100.2"), addr(3, "2001:db8::2"), addr(3, "2001:db8::3")], True),  # one more
])
def test_reset_compares_what_a_record_sees(after, differs):
    v = View()
    v.reset([link(3, "wan0"), addr(3, "198.51.100.2"), addr(3, "2001:db8::2")])
    assert v.reset([link(3, "wan0"), *after]) == ({Change("wan0")} if differs else set())


def test_reset_says_went_up_only_for_links_that_were_down():
    v = View()
    v.reset([link(2, "lan"), link(3, "wan0", up=False)])
    assert v.reset([link(2, "lan"), link(3, "wan0")]) == {Change("wan0", came_up=True)}  # not "lan": it was up before too
    assert v.reset([link(2, "lan", up=False)]) == {Change("lan"), Change("wan0")}  # down; gone


def test_a_re_read_of_many_addresses_never_holds_them_twice():
    """reset() keeps what a record could care about in each device as one string and lets
    the old tables go before the dump comes in: a re-read of 10,000 addresses needs little
    more than the view itself (it used to hold the old and the new view at once, and every
    device twice more with a sorted list of its addresses as text: 2.6 times the view)."""
    import tracemalloc

    def dump(first):
        yield link(3, "wan0")
        for i in range(10_000):
            yield AddressChange(3, Address(ipaddress.ip_address(first + i), 32, IFA_F_PERMANENT))

    tracemalloc.start()
    try:
        v = View()
        v.reset(dump(0x0A000000))
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        changed = v.reset(dump(0x0A100000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert changed == {Change("wan0")} and len(v.device("wan0").addresses) == 10_000
    assert peak < 1.5 * held, f"a re-read peaked at {peak} bytes for a view of {held}"
