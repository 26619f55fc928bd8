#!/usr/bin/python3
"""Writes deploy/sample/: SAMPLE figures for the 17 reporting units of Zhengzhou.

THE FIGURES ARE SYNTHETIC. They are sized to each unit (population, industry, the
universities of Jinshui and the high-tech zone, the agriculture of the counties) so the
system can be tried on something that looks like the real thing; they are not official
statistics. Every row's note says so.

Each unit gets, in deploy/sample/UNIT/:
  UNIT-2014.csv            2014 figures that the growth targets compare with (period 2014)
  UNIT-2015-h1.csv         year-to-date figures observed 2015-06-30 (op set)
  UNIT-2015-annual.csv     year-end figures observed 2015-12-31 (op set)
  UNIT-2015-corrections.csv  a few units: op=add corrections observed in January 2016
and deploy/sample/targets-2015-units.csv: the 2015 targets (data/targets-2015.csv) with
each sum target split among the units by their share of last year's figure (目标分解),
as a bureau would (`targets import`; the quickstart loads it).
  UNIT-2015-q1.csv, UNIT-2015-q3.csv  the quarterly reports of the 2015 calendar's Q1 and Q3
                           rounds (data/calendar-2015.csv), every indicator the unit may report
  UNIT-2015-h1-nil.csv, UNIT-2015-annual-nil.csv  nil returns (零报告): 0 for each indicator
                           the unit has none of, so its H1 and year-end reports are complete
and deploy/sample/queued.csv says when each unit's clerk queued each round's files (the
quickstart imports them at those times under libfaketime, so timeliness is measured as it
would have been in 2015): most a few days before the due day, Shangjie's first half six
days late.
Gongyi, Xinmi and Zhongmu save their files as Excel on Chinese Windows does: GB18030
(GBK), CRLF, Chinese indicator names and dates like 2015/6/30. Dengfeng lags behind: its
year-end report has not come in, so it has only 2014 and the first three quarters of 2015.

Run: /usr/bin/python3 deploy/sample/generate.py  (deterministic; rewrites the files).
"""
import csv
import hashlib
import io
import os

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "data")
NOTE = "示例数据 sample data"

UNITS = ["zhongyuan", "erqi", "guancheng", "jinshui", "shangjie", "huiji", "zhongmu",
         "gongyi", "xingyang", "xinmi", "xinzheng", "dengfeng", "jingkai", "gaoxin",
         "hangkonggang", "zhengdong", "city"]
GBK_UNITS = {"gongyi", "xinmi", "zhongmu"}
LAGGING = "dengfeng"

# Resident population, 10 000 persons, end of 2015 (sums to about 958, the city's size).
POPULATION = {"zhongyuan": 90, "erqi": 74, "guancheng": 64, "jinshui": 148, "shangjie": 14,
              "huiji": 29, "zhongmu": 52, "gongyi": 81, "xingyang": 60, "xinmi": 79,
              "xinzheng": 62, "dengfeng": 66, "jingkai": 25, "gaoxin": 30, "hangkonggang": 38,
              "zhengdong": 46}
# Shares of the city's total, by the kind of figure.
HIGHTECH = {"zhongyuan": .05, "erqi": .04, "guancheng": .04, "jinshui": .08, "shangjie": .03,
            "huiji": .02, "zhongmu": .05, "gongyi": .06, "xingyang": .05, "xinmi": .04,
            "xinzheng": .06, "dengfeng": .02, "jingkai": .12, "gaoxin": .16,
            "hangkonggang": .14, "zhengdong": .04}
INDUSTRY = {"zhongyuan": .03, "erqi": .02, "guancheng": .03, "jinshui": .02, "shangjie": .04,
            "huiji": .01, "zhongmu": .08, "gongyi": .10, "xingyang": .08, "xinmi": .10,
            "xinzheng": .10, "dengfeng": .06, "jingkai": .12, "gaoxin": .06,
            "hangkonggang": .14, "zhengdong": .01}
KNOWLEDGE = {"zhongyuan": .08, "erqi": .05, "guancheng": .03, "jinshui": .20, "shangjie": .02,
             "huiji": .03, "zhongmu": .03, "gongyi": .04, "xingyang": .03, "xinmi": .02,
             "xinzheng": .04, "dengfeng": .01, "jingkai": .08, "gaoxin": .22,
             "hangkonggang": .04, "zhengdong": .08}
# The municipal level takes part in a few programmes of its own.
MUNICIPAL = dict(KNOWLEDGE, city=.25)
AGRICULTURE = {"zhongmu": .30, "xinzheng": .15, "xingyang": .15, "gongyi": .15, "xinmi": .10,
               "dengfeng": .10, "huiji": .05}
NATIONAL_INCUBATOR = {"gaoxin": 1.0}

# indicator: (city total at the end of 2015, decimals, shares, first-half fraction)
ANNUAL = {
    "complex_started": (22, 0, HIGHTECH, .45),
    "complex_built_area": (1056000, 0, HIGHTECH, .41),
    "hightech_output": (6385.4, 2, HIGHTECH, .46),
    "hightech_value_added": (1462.8, 2, HIGHTECH, .47),
    "industrial_value_added": (2861.5, 2, INDUSTRY, .48),
    "invention_patents_held": (6650, 0, KNOWLEDGE, None),  # a stock: level at the date
    "resident_population": (958, 1, POPULATION, None),
    "tech_contract_turnover": (134.6, 2, KNOWLEDGE, .44),
    "industry_alliances": (4, 0, MUNICIPAL, .5),
    "industry_institutes": (3, 0, MUNICIPAL, .34),
    "agri_clusters_provincial": (1, 0, AGRICULTURE, 0),
    "agri_st_parks": (2, 0, AGRICULTURE, .5),
    "benefit_projects": (12, 0, MUNICIPAL, .5),
    "science_experience_centers": (27, 0, POPULATION, .4),
    "science_education_bases": (6, 0, KNOWLEDGE, .5),
    "rd_centers_municipal": (108, 0, HIGHTECH, .52),
    "rd_centers_provincial": (23, 0, HIGHTECH, .45),
    "academician_workstations": (9, 0, KNOWLEDGE, .45),
    "hightech_parks": (11, 0, HIGHTECH, .55),
    "st_enterprises": (1124, 0, HIGHTECH, .51),
    "innovative_pilot_enterprises": (52, 0, HIGHTECH, .5),
    "hightech_enterprises": (61, 0, HIGHTECH, .3),
    "tech_transfer_institutions": (5, 0, KNOWLEDGE, .4),
    "tech_transfer_subsidy_projects": (22, 0, KNOWLEDGE, .45),
    "soft_science_bases": (5, 0, MUNICIPAL, .4),
    "intl_cooperation_bases": (9, 0, KNOWLEDGE, .56),
    "high_end_talents": (118, 0, MUNICIPAL, .47),
    "st_entrepreneurs": (42, 0, MUNICIPAL, .5),
    "incubators_municipal": (16, 0, HIGHTECH, .44),
    "incubators_provincial": (3, 0, HIGHTECH, .34),
    "incubators_national": (1, 0, NATIONAL_INCUBATOR, 0),
    "incubation_area": (1083000, 0, HIGHTECH, .43),
    "public_service_platforms": (10, 0, KNOWLEDGE, .5),
}
# The 2014 figures the growth targets compare with (city totals).
BASE_2014 = {
    "hightech_output": 5561.2,
    "tech_contract_turnover": 118.7,
    "invention_patents_held": 5432,
    "resident_population": 949.3,
}
# Stocks at mid-year, as a share of their year-end level.
H1_STOCK = {"invention_patents_held": .9, "resident_population": .995}
# op=add corrections: (unit, indicator, change, observed_at, note)
CORRECTIONS = [
    ("zhongyuan", "academician_workstations", 1, "2016-01-08T10:30:00+08:00",
     "补报：院士工作站12月获认定 late accreditation"),
    ("jinshui", "tech_contract_turnover", 1.85, "2016-01-12T16:00:00+08:00",
     "补登记技术合同 contracts registered late"),
    ("hangkonggang", "hightech_output", -12.4, "2016-01-15T09:00:00+08:00",
     "核减重复统计 double count removed"),
]
H1_AT = "2015-06-30T17:00:00+08:00"
ANNUAL_AT = "2015-12-31T18:00:00+08:00"
BASE_AT = "2014-12-31T18:00:00+08:00"


def jitter(*key):
    """A deterministic factor in [0.8, 1.2] for one unit and figure."""
    h = hashlib.sha256("/".join(map(str, key)).encode()).digest()
    return 0.8 + 0.4 * (h[0] / 255)


def split(total, decimals, shares, key):
    """Divides `total` over the units by their shares (varied a little), exactly: counts
    by largest remainder, amounts rounded with the rest put on the largest share."""
    weights = {u: s * jitter(key, u) for u, s in shares.items() if s > 0}
    norm = sum(weights.values())
    raw = {u: total * w / norm for u, w in weights.items()}
    if decimals == 0:
        out = {u: int(v) for u, v in raw.items()}
        rest = int(round(total)) - sum(out.values())
        for u in sorted(raw, key=lambda u: raw[u] - int(raw[u]), reverse=True)[:rest]:
            out[u] += 1
        return {u: v for u, v in out.items() if v > 0}
    out = {u: round(v, decimals) for u, v in raw.items()}
    biggest = max(out, key=out.get)
    out[biggest] = round(out[biggest] + round(total - sum(out.values()), decimals), decimals)
    return out


def fmt(v, decimals):
    return str(int(v)) if decimals == 0 else f"{v:.{decimals}f}"


def excel_time(iso):
    """2015-06-30T17:00:00+08:00 -> 2015/6/30 17:00, as Excel on Chinese Windows writes."""
    d, t = iso[:10], iso[11:16]
    y, m, day = d.split("-")
    return f"{int(y)}/{int(m)}/{int(day)} {t}"


def add_backdated_correction(add):
    """A correction of the half-year figures, observed on 30 June after the H1 report but
    sent in July (CONTRACT section 11): it changes what "as of 30 June" shows, so the
    diff of June and the dashboard's revised marks have something to show."""
    add("erqi", "2015-h1-correction", "rd_centers_municipal", 1, 0, 2015,
        "2015-06-30T21:00:00+08:00", op="add",
        note=NOTE + "; 补报：6月30日认定1家 backdated correction, sent 2015-07-06")


def main():
    names = {r["code"]: r["name_zh"] for r in csv.DictReader(open(os.path.join(DATA, "indicators.csv"), encoding="utf-8"))}
    annual = {ind: split(*spec[:3], ind) for ind, spec in ANNUAL.items()}
    base = {}
    for ind, total in BASE_2014.items():
        decimals, shares = ANNUAL[ind][1], ANNUAL[ind][2]
        base[ind] = split(total, decimals, shares, ind + "/2014")

    files = {u: {} for u in UNITS}

    def add(unit, name, ind, value, decimals, period, at, op="set", note=NOTE):
        files[unit].setdefault(name, []).append((ind, fmt(value, decimals), period, op, at, note))

    for ind, per_unit in annual.items():
        total, decimals, shares, h1 = ANNUAL[ind]
        for unit, value in per_unit.items():
            if h1 is None:
                h1_value = value * H1_STOCK[ind]
            else:
                h1_value = value * min(1.0, h1 * jitter(ind, unit, "h1"))
            h1_value = int(h1_value) if decimals == 0 else round(h1_value, decimals)
            if h1_value > 0:
                add(unit, "2015-h1", ind, h1_value, decimals, 2015, H1_AT)
            if unit != LAGGING:
                add(unit, "2015-annual", ind, value, decimals, 2015, ANNUAL_AT)
    for ind, per_unit in base.items():
        for unit, value in per_unit.items():
            add(unit, "2014", ind, value, ANNUAL[ind][1], 2014, BASE_AT)
    add("city", "2015-h1", "st_contribution_rate", 58.7, 1, 2015, H1_AT)
    add("city", "2015-annual", "st_contribution_rate", 61.5, 1, 2015, ANNUAL_AT)
    add("city", "2014", "st_contribution_rate", 57.9, 1, 2014, BASE_AT)
    reporters = {r["code"]: r["reported_by"] for r in csv.DictReader(open(os.path.join(DATA, "indicators.csv"), encoding="utf-8"))}
    round_reports(files, add, annual,
                  lambda unit: [i for i in reporters if unit == "city" or reporters[i] == "district"])
    for unit, ind, change, at, note in CORRECTIONS:
        decimals = 0 if float(change).is_integer() else 2
        add(unit, "2015-corrections", ind, change, decimals, 2015, at, op="add",
            note=NOTE + "; " + note)

    add_backdated_correction(add)

    for unit, by_name in files.items():
        folder = os.path.join(HERE, unit)
        os.makedirs(folder, exist_ok=True)
        for old in os.listdir(folder):
            os.remove(os.path.join(folder, old))
        gbk = unit in GBK_UNITS
        for name, rows in by_name.items():
            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\r\n" if gbk else "\n")
            w.writerow(["indicator", "value", "period", "op", "observed_at", "note"])
            for ind, value, period, op, at, note in rows:
                w.writerow([names[ind] if gbk else ind, value, period, op,
                            excel_time(at) if gbk else at, note])
            data = buf.getvalue().encode("gb18030" if gbk else "utf-8")
            with open(os.path.join(folder, f"{unit}-{name}.csv"), "wb") as f:
                f.write(data)
    write_queue_times(files)


# ---- reporting rounds (CONTRACT section 9) ---------------------------------------------
Q1_AT = "2015-03-31T17:00:00+08:00"
Q3_AT = "2015-09-30T17:00:00+08:00"
LATE = "shangjie"  # queues its first-half report after the due day
# When the clerks queue each round's files: a few days before the due day (Asia/Shanghai).
QUEUED = {"q1": "2015-04-07", "h1": "2015-07-07", "q3": "2015-10-08", "annual": "2016-01-12"}
LATE_QUEUED = {"h1": "2015-07-16"}
CITY_RATE = {"q1": 58.2, "q3": 60.1}


def floor_to(v, decimals):
    q = 10 ** decimals
    return int(v * q) / q if decimals else int(v)


def round_reports(files, add, annual, reportable):
    """Q1 and Q3 reports, and nil returns for H1 and the year end, so that every unit's
    report of each round holds every indicator it may report. Year-to-date values grow
    through the year: Q1 below H1, Q3 between H1 and the year end."""
    for unit in UNITS:
        h1 = {r[0]: float(r[1]) for r in files[unit].get("2015-h1", [])}
        year_end = {r[0]: float(r[1]) for r in files[unit].get("2015-annual", [])}
        for ind in reportable(unit):
            if ind == "st_contribution_rate":
                for rnd, at in (("q1", Q1_AT), ("q3", Q3_AT)):
                    add(unit, f"2015-{rnd}", ind, CITY_RATE[rnd], 1, 2015, at)
                continue
            decimals = ANNUAL[ind][1]
            mid = h1.get(ind, 0.0)
            end = year_end.get(ind, annual[ind].get(unit, 0.0))
            add(unit, "2015-q1", ind, floor_to(mid * .45, decimals), decimals, 2015, Q1_AT)
            add(unit, "2015-q3", ind, floor_to(mid + (max(end, mid) - mid) * .55, decimals),
                decimals, 2015, Q3_AT)
            if ind not in h1:
                add(unit, "2015-h1-nil", ind, 0, decimals, 2015, H1_AT, note=NOTE + "; 零报告 nil")
            if unit != LAGGING and ind not in year_end:
                add(unit, "2015-annual-nil", ind, 0, decimals, 2015, ANNUAL_AT,
                    note=NOTE + "; 零报告 nil")


def write_queue_times(files):
    """deploy/sample/queued.csv: unit, file, the moment (UTC+8) its clerk queued it."""
    with open(os.path.join(HERE, "queued.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["unit", "file", "queued_at"])
        for k, unit in enumerate(UNITS):
            for name in sorted(files[unit]):
                rnd = name[5:].removesuffix("-nil")
                if not name.startswith("2015-") or rnd not in QUEUED:
                    continue
                day = (LATE_QUEUED if unit == LATE else {}).get(rnd, QUEUED[rnd])
                w.writerow([unit, f"{unit}-{name}.csv", f"{day}T{9 + k % 8:02d}:{k * 7 % 60:02d}:00+08:00"])


def split_by_share(total, decimals, last_year):
    """Divides a target by each unit's share of last year's figure: counts by largest
    remainder (a unit whose share rounds to nothing gets no target), amounts rounded."""
    norm = sum(last_year.values())
    raw = {u: total * v / norm for u, v in last_year.items() if v > 0}
    if decimals == 0:
        out = {u: int(v) for u, v in raw.items()}
        rest = int(round(total)) - sum(out.values())
        for u in sorted(raw, key=lambda u: (raw[u] - int(raw[u]), u), reverse=True)[:rest]:
            out[u] += 1
        return {u: v for u, v in out.items() if v > 0}
    return {u: round(v, decimals) for u, v in raw.items() if round(v, decimals) > 0}


def write_unit_targets():
    """targets-2015-units.csv: the city rows as shipped, then one row per unit and split
    target. Last year's figure is the 2014 sample figure where there is one, else a 2014
    made the way the 2015 figures are (about 0.9 of them, varied by unit)."""
    path = os.path.join(DATA, "targets-2015.csv")
    rows = list(csv.DictReader(open(path, encoding="utf-8")))
    header = list(rows[0].keys()) + ["district"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([r[k] for k in header[:-1]] + [""])
    for r in rows:
        ind = r["indicator"]
        if r["kind"] != "sum" or ind not in ANNUAL:
            continue
        total, decimals, shares, _ = ANNUAL[ind]
        if ind in BASE_2014:
            last = split(BASE_2014[ind], decimals, shares, ind + "/2014")
        else:
            last = split(total * 0.9, decimals, shares, ind + "/2014")
        amount = 0 if decimals == 0 or float(r["target"]) >= 100000 else 2
        for unit in UNITS:
            share = split_by_share(float(r["target"]), amount, last).get(unit)
            if share is None:
                continue
            unit_row = dict(r, target=fmt(share, amount), name_zh="", name_en="", clause="")
            w.writerow([unit_row[k] for k in header[:-1]] + [unit])
    with open(os.path.join(HERE, "targets-2015-units.csv"), "w", encoding="utf-8") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
    write_unit_targets()
