import pytest

from volunteers import postcodes
from volunteers.rules import normalise_district


def test_ng7_is_a_few_km_from_nottingham_city_centre():
    assert 1 < postcodes.distance_km("NG7", "NG1") < 4


def test_cardiff_to_bangor_is_well_over_100_km():
    assert 180 < postcodes.distance_km("CF10", "LL57") < 230


def test_a_district_is_no_distance_from_itself_and_distance_is_symmetric():
    assert postcodes.distance_km("S1", "S1") == 0
    assert postcodes.distance_km("S1", "M1") == pytest.approx(postcodes.distance_km("M1", "S1"))


@pytest.mark.parametrize("district", ["ZZ99", "", "not a postcode", "NG"])
def test_an_unknown_district_has_no_centroid_and_no_distance(district):
    assert postcodes.centroid(district) is None
    assert postcodes.distance_km(district, "NG1") is None
    assert postcodes.distance_km("NG1", district) is None


@pytest.mark.parametrize("written", ["ng7", " NG7 ", "Ng7", "ng7 1aa", "NG71AA"])
def test_lookups_ignore_case_spaces_and_the_inward_code(written):
    assert postcodes.centroid(written) == postcodes.centroid("NG7") == pytest.approx((52.958, -1.175), abs=0.01)


def test_every_bundled_row_is_a_valid_district_inside_the_uk_and_crown_dependencies():
    table = postcodes.centroids()
    assert len(table) > 2900
    for district, (latitude, longitude) in table.items():
        assert normalise_district(district) == district
        assert 49 < latitude < 61
        assert -9 < longitude < 2


def test_the_file_is_read_once_per_process():
    assert postcodes.centroids() is postcodes.centroids()
