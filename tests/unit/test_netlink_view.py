"""The kernel view kept from rtnetlink messages (pure: messages in, changed devices out).

The messages are real pyroute2 message objects, built as the kernel's would decode.
"""

from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from ddns_edge.addresses import IFA_F_PERMANENT, IFA_F_TENTATIVE
from ddns_edge.netlink import IFF_RUNNING, IFF_UP, RTM_DELADDR, RTM_DELLINK, RTM_NEWADDR, RTM_NEWLINK, View


def link(index, name, up=True, kind=RTM_NEWLINK):
    msg = ifinfmsg()
    msg["header"] = {"type": kind}
    msg["index"] = index
    msg["flags"] = (IFF_UP | IFF_RUNNING) if up else 0
    msg["attrs"] = [("IFLA_IFNAME", name)]
    return msg


def addr(index, text, flags=IFA_F_PERMANENT, kind=RTM_NEWADDR, preferred=0xFFFFFFFF):
    msg = ifaddrmsg()
    msg["header"] = {"type": kind}
    msg["index"] = index
    msg["family"] = 10 if ":" in text else 2
    msg["prefixlen"] = 64 if ":" in text else 24
    msg["flags"] = flags & 0xFF
    attrs = [("IFA_ADDRESS", text), ("IFA_FLAGS", flags), ("IFA_CACHEINFO", {"ifa_preferred": preferred, "ifa_valid": 0xFFFFFFFF})]
    if ":" not in text:
        attrs.append(("IFA_LOCAL", text))
    msg["attrs"] = attrs
    return msg


def texts(view, name):
    got = view.addresses(name)
    return None if got is None else sorted(str(a.address) for a in got)


def test_addresses_follow_new_and_del():
    v = View()
    assert v.apply(link(3, "wan0")) == "wan0"
    assert v.apply(addr(3, "198.51.100.2")) == "wan0"
    assert v.apply(addr(3, "198.51.100.2")) is None  # a refresh changes nothing
    assert texts(v, "wan0") == ["198.51.100.2"]
    assert v.apply(addr(3, "198.51.100.2", kind=RTM_DELADDR)) == "wan0"
    assert texts(v, "wan0") == []
    assert v.apply(addr(3, "198.51.100.9", kind=RTM_DELADDR)) is None  # unknown: nothing changed


def test_device_recreated_with_a_new_index_is_followed_by_name():
    v = View()
    v.apply(link(3, "pppoe-wan"))
    v.apply(addr(3, "198.51.100.2"))
    assert v.apply(link(3, "pppoe-wan", kind=RTM_DELLINK)) == "pppoe-wan"
    assert texts(v, "pppoe-wan") is None
    v.apply(link(7, "pppoe-wan"))
    assert v.apply(addr(7, "198.51.100.3")) == "pppoe-wan"
    assert texts(v, "pppoe-wan") == ["198.51.100.3"]


def test_ipv6_flag_transitions_are_changes():
    v = View()
    v.apply(link(3, "wan0"))
    assert v.apply(addr(3, "2001:db8::2", IFA_F_TENTATIVE)) == "wan0"
    assert v.apply(addr(3, "2001:db8::2", IFA_F_PERMANENT)) == "wan0"  # DAD done
    assert v.apply(addr(3, "2001:db8::2", IFA_F_PERMANENT, preferred=0)) == "wan0"  # deprecated


def test_link_up_is_remembered_for_retries():
    v = View()
    v.apply(link(3, "wan0", up=False))
    assert v.went_up == set()
    assert v.apply(link(3, "wan0", up=True)) == "wan0"
    assert v.went_up == {"wan0"}


def test_other_devices_are_kept_apart():
    v = View()
    v.apply(link(2, "lan"))
    v.apply(link(3, "wan0"))
    assert v.apply(addr(2, "192.168.1.1")) == "lan"
    assert texts(v, "wan0") == []


def test_reset_reports_only_devices_whose_addresses_differ():
    v = View()
    v.reset([link(2, "lan"), link(3, "wan0"), addr(2, "192.168.1.1"), addr(3, "198.51.100.2")])
    changed = v.reset([link(2, "lan"), link(3, "wan0"), addr(2, "192.168.1.1"), addr(3, "198.51.100.7")])
    assert changed == {"wan0"}
    assert texts(v, "wan0") == ["198.51.100.7"]
