#!/usr/bin/env python3
"""Checks the MapiDispatch Group Policy template (ctest: deploy.admx).

  check_admx.py MapiDispatch.admx en-US/MapiDispatch.adml mapidispatch_setup.cpp

- both files are well-formed XML in the PolicyDefinitions namespace;
- every $(string.X) and $(presentation.X) the ADMX references exists in the ADML, and every
  presentation element's refId is an element of its policy;
- every policy is a Machine policy under SOFTWARE\\Policies\\MapiDispatch, and its value has the
  name and the type of a service parameter (the list in mapidispatch_setup.cpp, which is the
  list of README.md), with the same range;
- every parameter an administrator may set through a property has a policy.
Prints one line per problem and exits 1 if there is any.
"""
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions}"
problems = []


def problem(text):
    problems.append(text)
    print("FAIL", text)


def main():
    admx_path, adml_path, setup_path = sys.argv[1:4]
    try:
        admx = ET.parse(admx_path).getroot()
        adml = ET.parse(adml_path).getroot()
    except ET.ParseError as e:
        print("FAIL not well-formed:", e)
        return 1
    if admx.tag != NS + "policyDefinitions":
        problem("ADMX root is %s, not policyDefinitions" % admx.tag)
    if adml.tag != NS + "policyDefinitionResources":
        problem("ADML root is %s, not policyDefinitionResources" % adml.tag)

    strings = {s.get("id") for s in adml.iter(NS + "string")}
    presentations = {p.get("id"): p for p in adml.iter(NS + "presentation")}
    categories = {c.get("name") for c in admx.iter(NS + "category")}

    text = open(admx_path, encoding="utf-8").read()
    for ref in re.findall(r"\$\(string\.([A-Za-z0-9_]+)\)", text):
        if ref not in strings:
            problem("ADMX references $(string.%s), which the ADML does not define" % ref)
    for ref in re.findall(r"\$\(presentation\.([A-Za-z0-9_]+)\)", text):
        if ref not in presentations:
            problem("ADMX references $(presentation.%s), which the ADML does not define" % ref)

    # The service's parameters: name, kind, min, max, property (mapidispatch_setup.cpp kParams).
    src = open(setup_path, encoding="utf-8").read()
    params = {}
    for m in re.finditer(r'\{L"(\w+)", Kind::k(Dword|String), (?:L"[^"]*"|nullptr), (\d+), (\d+), (L"(\w+)"|nullptr)\}', src):
        params[m.group(1)] = (m.group(2), int(m.group(3)), int(m.group(4)), m.group(6))
    if len(params) < 5:
        problem("could not read the parameter list of %s (found %d)" % (setup_path, len(params)))

    covered = set()
    for pol in admx.iter(NS + "policy"):
        name = pol.get("name")
        if pol.get("class") != "Machine":
            problem("policy %s: class must be Machine" % name)
        if pol.get("key") != r"SOFTWARE\Policies\MapiDispatch":
            problem("policy %s: key must be SOFTWARE\\Policies\\MapiDispatch, not %s" % (name, pol.get("key")))
        parent = pol.find(NS + "parentCategory")
        if parent is None or parent.get("ref") not in categories:
            problem("policy %s: no known parent category" % name)
        values = []
        if pol.get("valueName"):
            values.append((pol.get("valueName"), "Dword", 0, 1))
        elements = pol.find(NS + "elements")
        ids = set()
        if elements is not None:
            for el in elements:
                tag = el.tag[len(NS):]
                ids.add(el.get("id"))
                if tag == "decimal":
                    values.append((el.get("valueName"), "Dword", int(el.get("minValue")), int(el.get("maxValue"))))
                elif tag in ("text", "enum"):
                    values.append((el.get("valueName"), "String", 0, 0))
                else:
                    problem("policy %s: unexpected element %s" % (name, tag))
        pres_ref = pol.get("presentation")
        if pres_ref:
            pres = presentations.get(re.sub(r"^\$\(presentation\.(.*)\)$", r"\1", pres_ref))
            if pres is not None:
                for child in pres:
                    if child.get("refId") is not None and child.get("refId") not in ids:
                        problem("presentation of %s refers to %s, not an element of the policy" % (name, child.get("refId")))
        elif elements is not None:
            problem("policy %s has elements but no presentation" % name)
        for value, kind, lo, hi in values:
            if value not in params:
                problem("policy %s sets %s, which is not a parameter of the service" % (name, value))
                continue
            pkind, plo, phi, _ = params[value]
            if pkind != kind:
                problem("policy %s: %s is a %s parameter, the policy writes a %s" % (name, value, pkind, kind))
            if kind == "Dword" and (lo, hi) != (plo, phi):
                problem("policy %s: range %d..%d, the parameter's is %d..%d" % (name, lo, hi, plo, phi))
            covered.add(value)
    for value, (_, _, _, prop) in params.items():
        if prop and value not in covered:
            problem("parameter %s (MSI property %s) has no policy" % (value, prop))
    n = len(list(admx.iter(NS + "policy")))
    if problems:
        print("deploy.admx: %d problem(s)" % len(problems))
        return 1
    print("deploy.admx: %d policies, %d strings, every reference resolved, every settable parameter covered" % (n, len(strings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
