"""The served airports get the city and airport names passengers use, and the hub its one-hour connection."""

from django.db import migrations

# A copy of reservations.services.reference.PLACE_NAMES as it stood when this migration was written.
PLACE_NAMES = {
    "LHR": ("London", "London Heathrow Airport"),
    "CDG": ("Paris", "Paris Charles de Gaulle Airport"),
    "AMS": ("Amsterdam", "Amsterdam Airport Schiphol"),
    "FRA": ("Frankfurt", "Frankfurt Airport"),
    "MUC": ("Munich", "Munich Airport"),
    "ZRH": ("Zurich", "Zurich Airport"),
    "GVA": ("Geneva", "Geneva Airport"),
    "DUB": ("Dublin", "Dublin Airport"),
    "EDI": ("Edinburgh", "Edinburgh Airport"),
    "MAN": ("Manchester", "Manchester Airport"),
    "CPH": ("Copenhagen", "Copenhagen Airport"),
    "BER": ("Berlin", "Berlin Brandenburg Airport"),
    "PRG": ("Prague", "Prague Václav Havel Airport"),
    "VIE": ("Vienna", "Vienna International Airport"),
    "BCN": ("Barcelona", "Barcelona–El Prat Airport"),
    "MAD": ("Madrid", "Madrid–Barajas Airport"),
    "NCE": ("Nice", "Nice Côte d'Azur Airport"),
    "FCO": ("Rome", "Rome Fiumicino Airport"),
    "OSL": ("Oslo", "Oslo Airport, Gardermoen"),
    "ARN": ("Stockholm", "Stockholm Arlanda Airport"),
    "LIS": ("Lisbon", "Lisbon Airport"),
    "ATH": ("Athens", "Athens International Airport"),
    "IST": ("Istanbul", "Istanbul Airport"),
    "TLV": ("Tel Aviv", "Ben Gurion Airport"),
    "JFK": ("New York", "New York John F. Kennedy International Airport"),
    "BOS": ("Boston", "Boston Logan International Airport"),
    "ORD": ("Chicago", "Chicago O'Hare International Airport"),
    "YYZ": ("Toronto", "Toronto Pearson International Airport"),
    "DXB": ("Dubai", "Dubai International Airport"),
    "SIN": ("Singapore", "Singapore Changi Airport"),
    "HKG": ("Hong Kong", "Hong Kong International Airport"),
}


def rename(apps, schema_editor):
    Airport = apps.get_model("reservations", "Airport")
    for airport in Airport.objects.filter(iata_code__in=PLACE_NAMES):
        airport.city, airport.name = PLACE_NAMES[airport.iata_code]
        airport.save(update_fields=["city", "name"])
    Airport.objects.filter(iata_code="LHR").update(minimum_connection_minutes=60)


class Migration(migrations.Migration):
    dependencies = [("reservations", "0008_airport_minimum_connection_minutes")]

    operations = [migrations.RunPython(rename, migrations.RunPython.noop)]
