"""core.sectors: classification, hand-checked sector returns, RS and sector-index returns, and no
look-ahead on a seeded random-walk universe of real NIFTY 500 symbols."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from core import sectors as s
from core.errors import ValidationError
from core.timeutil import IST, UTC

NAN = np.nan
DAYS = [date(2026, 6, 1), date(2026, 6, 2), date(2026, 6, 3), date(2026, 6, 4), date(2026, 6, 5),
        date(2026, 6, 8)]
#: Hand-made closes (₹). Industry A = X, Y (+ W, listed but without bars); B = Z (no bar on 3 Jun).
PRICES = {
    "X": [100, 110, 121, 121, 110, 99],
    "Y": [50, 50, 55, 60, 66, 66],
    "Z": [200, 190, NAN, 180, 198, 200],
}
NIFTY = [1000, 1100, 1100, 1000, 1000, 1100]


def _list(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["Company Name", "Industry", "Symbol"]).assign(Series="EQ", **{"ISIN Code": "X"})


@pytest.fixture()
def classification() -> pd.DataFrame:
    return s.classify(_list([("Ex Ltd.", "A", "X"), ("Why Ltd.", "A", "Y"), ("Zed Ltd.", "B", "Z"),
                             ("Double-u Ltd.", "A", "W")]))


@pytest.fixture()
def closes() -> pd.DataFrame:
    rows = [(sym, d, px) for sym, pxs in PRICES.items() for d, px in zip(DAYS, pxs, strict=True) if not np.isnan(px)]
    return s.close_matrix(pd.DataFrame(rows, columns=["symbol", "date", "close"]))


@pytest.fixture()
def nifty() -> pd.Series:
    return pd.Series(NIFTY, index=pd.DatetimeIndex([pd.Timestamp(d, tz=IST) for d in DAYS]), dtype="float64")


# ---- classification ---------------------------------------------------------------------------------


def test_classify_bundled_nifty500_list_has_500_symbols_in_21_industries():
    from app.settings import DATA_DIR

    out = s.classify(pd.read_csv(DATA_DIR / "ind_nifty500list_2026-03.csv"))
    assert len(out) == 500 and out.index.is_unique
    assert out["industry"].nunique() == 21
    assert out.loc["INFY", "industry"] == "Information Technology"
    assert out.loc["HDFCBANK", "industry"] == "Financial Services"
    assert list(out.columns) == ["company_name", "industry"]


def test_classify_empty_list_raises_empty_universe():
    with pytest.raises(ValidationError, match="empty universe"):
        s.classify(_list([]))


def test_classify_missing_industry_column_names_the_format():
    with pytest.raises(ValidationError, match="Industry"):
        s.classify(pd.DataFrame({"Company Name": ["a"], "Symbol": ["A"]}))


def test_classify_duplicate_symbol_raises():
    with pytest.raises(ValidationError, match="repeats symbols \\['X'\\]"):
        s.classify(_list([("a", "A", "X"), ("b", "B", "x ")]))


def test_close_matrix_is_wide_tz_aware_with_nan_for_missing_bar(closes):
    assert list(closes.columns) == ["X", "Y", "Z"]
    assert str(closes.index.tz) == "Asia/Kolkata" and len(closes) == 6
    assert np.isnan(closes.at[pd.Timestamp("2026-06-03", tz=IST), "Z"])


# ---- returns (hand-checked) -------------------------------------------------------------------------


def test_sector_returns_1_session_hand_checked(closes, classification):
    out = s.sector_returns(closes, classification, date(2026, 6, 8), 1)
    # X 99/110 - 1 = -10 %, Y 66/66 - 1 = 0 % -> A = -5 %; Z 200/198 - 1 = +1.0101 %
    assert out.loc["A", "return_pct"] == pytest.approx(-5.0)
    assert out.loc["B", "return_pct"] == pytest.approx((200 / 198 - 1) * 100)
    assert list(out.index) == ["B", "A"]  # sorted by return, best first
    a = out.loc["A"]
    assert (a["members"], a["constituents"], a["advancers"], a["decliners"]) == (2, 3, 0, 1)
    assert (a["best"], a["worst"]) == ("Y", "X") and a["worst_pct"] == pytest.approx(-10.0)
    assert out.attrs == {"as_of": date(2026, 6, 8), "base": date(2026, 6, 5)}


def test_sector_returns_5_sessions_equal_weighted(closes, classification):
    out = s.sector_returns(closes, classification, date(2026, 6, 8), s.PERIODS["1W"])
    # X 99/100 - 1 = -1 %, Y 66/50 - 1 = +32 % -> A = +15.5 % (equal weight, not price weight)
    assert out.loc["A", "return_pct"] == pytest.approx(15.5)
    assert out.loc["B", "return_pct"] == pytest.approx(0.0)
    assert out.attrs["base"] == date(2026, 6, 1)


def test_sector_without_a_member_return_is_nan_and_last(closes, classification):
    out = s.sector_returns(closes, classification, date(2026, 6, 4), 1)  # Z has no 3 Jun close
    assert np.isnan(out.loc["B", "return_pct"]) and out.loc["B", "members"] == 0
    assert out.index[-1] == "B" and out.loc["B", "best"] == ""
    # A: X 121/121 = 0 %, Y 60/55 - 1 = 9.0909 %
    assert out.loc["A", "return_pct"] == pytest.approx((60 / 55 - 1) * 50)


def test_symbol_table_keeps_listed_symbols_without_bars_as_nan(closes, classification):
    out = s.symbol_table(closes, classification, date(2026, 6, 8), 1)
    assert list(out.index) == ["W", "X", "Y", "Z"]
    assert np.isnan(out.at["W", "return_pct"]) and out.at["X", "return_pct"] == pytest.approx(-10.0)
    assert out.at["X", "company_name"] == "Ex Ltd."


def test_as_of_between_sessions_uses_the_last_session_before(closes, classification):
    sunday = s.sector_returns(closes, classification, date(2026, 6, 7), 1)
    friday = s.sector_returns(closes, classification, date(2026, 6, 5), 1)
    pd.testing.assert_frame_equal(sunday, friday)


def test_datetime_as_of_before_the_close_excludes_todays_bar(closes, classification):
    midday = datetime(2026, 6, 8, 11, 0, tzinfo=IST)
    after = datetime(2026, 6, 8, 10, 0, tzinfo=UTC)  # 15:30 IST
    assert s.sector_returns(closes, classification, midday, 1).attrs["as_of"] == date(2026, 6, 5)
    assert s.sector_returns(closes, classification, after, 1).attrs["as_of"] == date(2026, 6, 8)


def test_naive_datetime_as_of_raises(closes, classification):
    with pytest.raises(ValidationError, match="timezone-aware"):
        s.sector_returns(closes, classification, datetime(2026, 6, 8, 16, 0), 1)


def test_too_little_history_says_how_many_sessions(closes, classification):
    with pytest.raises(ValidationError, match="needs 22 sessions .* only 6"):
        s.sector_returns(closes, classification, date(2026, 6, 8), s.PERIODS["1M"])


def test_as_of_before_the_data_raises(closes, classification):
    with pytest.raises(ValidationError, match="no daily bars on or before 2026-05-29"):
        s.sector_returns(closes, classification, date(2026, 5, 29), 1)


def test_universe_without_bars_raises_empty_universe(closes):
    other = s.classify(_list([("Q Ltd.", "A", "Q")]))
    with pytest.raises(ValidationError, match="empty universe"):
        s.sector_returns(closes, other, date(2026, 6, 8), 1)


def test_unknown_period_lists_the_choices():
    with pytest.raises(ValidationError, match=r"unknown period '2W'.*'1D', '1W', '1M'"):
        s.period_sessions("2W")


# ---- relative strength (hand-checked) ---------------------------------------------------------------


def test_relative_strength_vs_sector_and_nifty_hand_checked(closes, classification, nifty):
    start = s.window_start(closes, date(2026, 6, 8), 5)
    assert start == date(2026, 6, 1)
    rs = s.relative_strength(closes, classification, "X", nifty, start, date(2026, 6, 8))
    assert list(rs.columns) == list(s.RS_COLUMNS)
    # sector A (X, Y; W has no bars) rebased: mean(X/100, Y/50) x 100
    sector = [100, 105, 115.5, 120.5, 121, 115.5]
    own = [100, 110, 121, 121, 110, 99]
    nifty_rb = [100, 110, 110, 100, 100, 110]
    np.testing.assert_allclose(rs["sector_rebased"], sector)
    np.testing.assert_allclose(rs["close_rebased"], own)
    np.testing.assert_allclose(rs["rs_vs_sector"], [100 * o / q for o, q in zip(own, sector, strict=True)])
    np.testing.assert_allclose(rs["rs_vs_nifty50"], [100, 100, 110, 121, 110, 90])
    np.testing.assert_allclose(rs["nifty50_rebased"], nifty_rb)
    assert rs.attrs["industry"] == "A" and rs.attrs["sector_members"] == 2


def test_relative_strength_holds_a_suspended_member_at_its_last_close(closes, classification, nifty):
    rs = s.relative_strength(closes, classification, "nse:z", nifty, date(2026, 6, 1), date(2026, 6, 8))
    assert rs.loc[pd.Timestamp("2026-06-03", tz=IST), "sector_rebased"] == pytest.approx(95.0)
    np.testing.assert_allclose(rs["rs_vs_sector"], 100.0)  # sole member of B


def test_relative_strength_benchmark_missing_dates_are_nan(closes, classification, nifty):
    short = nifty.iloc[:4]  # a benchmark with fewer bars than the stocks
    rs = s.relative_strength(closes, classification, "X", short, date(2026, 6, 1), date(2026, 6, 8))
    assert rs["rs_vs_nifty50"].notna().tolist() == [True] * 4 + [False] * 2
    none = s.relative_strength(closes, classification, "X", None, date(2026, 6, 1), date(2026, 6, 8))
    assert none["rs_vs_nifty50"].isna().all() and none["rs_vs_sector"].notna().all()


def test_relative_strength_unknown_symbol_suggests_close_matches(closes, classification, nifty):
    with pytest.raises(ValidationError, match="unknown symbol 'XX'"):
        s.relative_strength(closes, classification, "XX", nifty, date(2026, 6, 1), date(2026, 6, 8))
    with pytest.raises(ValidationError, match="blank"):
        s.resolve_symbol("  ", classification)


def test_relative_strength_symbol_without_bars_or_base_close_raises(closes, classification, nifty):
    with pytest.raises(ValidationError, match="no daily bars for W up to the as-of date"):
        s.relative_strength(closes, classification, "W", nifty, date(2026, 6, 1), date(2026, 6, 8))
    with pytest.raises(ValidationError, match="Z has no close on 2026-06-03.*shorter window"):
        s.relative_strength(closes, classification, "Z", nifty, date(2026, 6, 3), date(2026, 6, 8))


def test_relative_strength_start_not_a_session_raises(closes, classification, nifty):
    with pytest.raises(ValidationError, match="not a session"):
        s.relative_strength(closes, classification, "X", nifty, date(2026, 6, 6), date(2026, 6, 8))


# ---- look-ahead on a random-walk universe -----------------------------------------------------------


@pytest.fixture(scope="module")
def bundled():
    """Real NIFTY 500 symbols of three industries (the reference list) with seeded random-walk
    closes over 300 weekdays; some listed late, one suspended for 10 sessions, and a NIFTY 50
    benchmark that ends 40 sessions before the stocks."""
    from app.settings import DATA_DIR

    classification = s.classify(pd.read_csv(DATA_DIR / "ind_nifty500list_2026-03.csv"))
    keep = classification.index[classification["industry"].isin(
        ["Information Technology", "Metals & Mining", "Power"])]
    classification = classification.loc[keep]
    rng = np.random.default_rng(12)
    days = pd.bdate_range("2015-06-01", periods=300)
    rows = []
    for i, sym in enumerate(classification.index):
        px = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.02, len(days))))
        first = 0 if i % 5 else int(rng.integers(20, 200))  # every fifth listed late
        for j, (d, c) in enumerate(zip(days, px, strict=True)):
            if j >= first and not (sym == "INFY" and 100 <= j < 110):
                rows.append((sym, d.date(), float(c)))
    closes = s.close_matrix(pd.DataFrame(rows, columns=["symbol", "date", "close"]))
    bench = pd.Series(10000.0 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days) - 40))),
                      index=pd.DatetimeIndex(days[:-40]).tz_localize(IST))
    return closes, classification, bench


def _perturb_after(closes: pd.DataFrame, cut: pd.Timestamp, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = closes.copy()
    after = out.index > cut
    out.loc[after] = out.loc[after] * rng.uniform(0.5, 1.5, size=out.loc[after].shape)
    return out


def test_sector_returns_have_no_look_ahead(bundled):
    closes, classification, _ = bundled
    for i in (30, 120, len(closes) - 40):
        cut = closes.index[i]
        t = cut.date()
        for sessions in s.PERIODS.values():
            full = s.sector_returns(closes, classification, t, sessions)
            trunc = s.sector_returns(closes.loc[:cut], classification, t, sessions)
            changed = s.sector_returns(_perturb_after(closes, cut, i), classification, t, sessions)
            pd.testing.assert_frame_equal(full, trunc)
            pd.testing.assert_frame_equal(full, changed)
            assert full.attrs["as_of"] == t


def test_relative_strength_has_no_look_ahead(bundled):
    closes, classification, bench = bundled
    as_of = closes.index[-1].date()
    start = s.window_start(closes, as_of, s.RS_WINDOWS["1Y"])
    full = s.relative_strength(closes, classification, "INFY", bench, start, as_of)
    assert full["rs_vs_nifty50"].notna().sum() == 211  # the benchmark covers part of the window
    for cut in full.index[[1, 60, 150, -2]]:
        fut_bench = bench.copy()
        fut_bench[fut_bench.index > cut] *= 3.0
        trunc = s.relative_strength(closes.loc[:cut], classification, "INFY", bench.loc[:cut], start, cut.date())
        changed = s.relative_strength(_perturb_after(closes, cut, 7), classification, "INFY", fut_bench,
                                      start, cut.date())
        pd.testing.assert_frame_equal(trunc, full.loc[:cut], check_freq=False)
        pd.testing.assert_frame_equal(changed, full.loc[:cut], check_freq=False)


def test_it_sector_1d_return_matches_a_hand_computed_mean(bundled):
    closes, classification, _ = bundled
    as_of = closes.index[-1].date()
    out = s.sector_returns(closes, classification, as_of, 1)
    it = classification.index[classification["industry"] == "Information Technology"].intersection(closes.columns)
    last, prev = closes.iloc[-1][it], closes.iloc[-2][it]
    expected = ((last / prev - 1) * 100).dropna()
    assert out.loc["Information Technology", "return_pct"] == pytest.approx(expected.mean(), rel=1e-12)
    assert out.loc["Information Technology", "members"] == len(expected)


# ---- sector indices -------------------------------------------------------------------------------


def test_index_returns_use_the_sector_tables_two_sessions(nifty):
    idx = pd.DataFrame({"NIFTY IT": nifty.values * 2.0, "NIFTY AUTO": [NAN] * 5 + [500.0]}, index=nifty.index)
    out = s.index_returns(idx, ["Information Technology", "Automobile and Auto Components", "Textiles"],
                          date(2026, 6, 5), date(2026, 6, 8))
    assert out.loc["Information Technology", "index"] == "NIFTY IT"
    assert out.loc["Information Technology", "index_pct"] == pytest.approx(10.0)  # 2000 → 2200
    assert out.loc["Automobile and Auto Components", "index"] == "NIFTY AUTO"
    assert np.isnan(out.loc["Automobile and Auto Components", "index_pct"])  # no close on 5 Jun
    assert out.loc["Textiles", "index"] == "" and np.isnan(out.loc["Textiles", "index_pct"])
    assert s.index_return_pct(nifty, date(2026, 6, 1), date(2026, 6, 2)) == pytest.approx(10.0)
    assert s.index_return_pct(None, date(2026, 6, 1), date(2026, 6, 2)) is None


def test_every_mapped_industry_is_a_nifty500_industry():
    from app.settings import DATA_DIR

    industries = set(s.classify(pd.read_csv(DATA_DIR / "ind_nifty500list_2026-03.csv"))["industry"])
    assert set(s.SECTOR_INDEX) <= industries
