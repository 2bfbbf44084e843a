"""Airports' cities and names in Chinese, and the English names passengers use, for the served airports."""

from django.db import migrations, models

# The reference data as it stood (reservations.services.reference.PLACES): code -> (city, city in Chinese,
# name in Chinese, name in English where the package's is not the one people use).
PLACES = {
    "LHR": ("London", "伦敦", "伦敦希思罗机场", ""),
    "CDG": ("Paris", "巴黎", "巴黎夏尔·戴高乐机场", "Paris Charles de Gaulle Airport"),
    "AMS": ("Amsterdam", "阿姆斯特丹", "阿姆斯特丹史基浦机场", ""),
    "FRA": ("Frankfurt", "法兰克福", "法兰克福机场", "Frankfurt Airport"),
    "MUC": ("Munich", "慕尼黑", "慕尼黑机场", "Munich Airport"),
    "ZRH": ("Zurich", "苏黎世", "苏黎世机场", ""),
    "GVA": ("Geneva", "日内瓦", "日内瓦机场", "Geneva Airport"),
    "DUB": ("Dublin", "都柏林", "都柏林机场", ""),
    "EDI": ("Edinburgh", "爱丁堡", "爱丁堡机场", ""),
    "MAN": ("Manchester", "曼彻斯特", "曼彻斯特机场", ""),
    "CPH": ("Copenhagen", "哥本哈根", "哥本哈根凯斯楚普机场", "Copenhagen Airport"),
    "BER": ("Berlin", "柏林", "柏林勃兰登堡机场", ""),
    "PRG": ("Prague", "布拉格", "布拉格瓦茨拉夫·哈维尔机场", "Václav Havel Airport Prague"),
    "VIE": ("Vienna", "维也纳", "维也纳国际机场", ""),
    "BCN": ("Barcelona", "巴塞罗那", "巴塞罗那埃尔普拉特机场", "Barcelona–El Prat Airport"),
    "MAD": ("Madrid", "马德里", "马德里巴拉哈斯机场", "Adolfo Suárez Madrid–Barajas Airport"),
    "NCE": ("Nice", "尼斯", "尼斯蔚蓝海岸机场", "Nice Côte d'Azur Airport"),
    "FCO": ("Rome", "罗马", "罗马菲乌米奇诺机场", "Rome Fiumicino Airport"),
    "OSL": ("Oslo", "奥斯陆", "奥斯陆加勒穆恩机场", ""),
    "ARN": ("Stockholm", "斯德哥尔摩", "斯德哥尔摩阿兰达机场", "Stockholm Arlanda Airport"),
    "LIS": ("Lisbon", "里斯本", "里斯本机场", "Lisbon Airport"),
    "ATH": ("Athens", "雅典", "雅典国际机场", "Athens International Airport"),
    "IST": ("Istanbul", "伊斯坦布尔", "伊斯坦布尔机场", ""),
    "TLV": ("Tel Aviv", "特拉维夫", "特拉维夫本·古里安国际机场", ""),
    "JFK": ("New York", "纽约", "纽约约翰·肯尼迪国际机场", ""),
    "BOS": ("Boston", "波士顿", "波士顿洛根国际机场", "Boston Logan International Airport"),
    "ORD": ("Chicago", "芝加哥", "芝加哥奥黑尔国际机场", ""),
    "YYZ": ("Toronto", "多伦多", "多伦多皮尔逊国际机场", ""),
    "DXB": ("Dubai", "迪拜", "迪拜国际机场", ""),
    "SIN": ("Singapore", "新加坡", "新加坡樟宜机场", "Singapore Changi Airport"),
    "HKG": ("Hong Kong", "香港", "香港国际机场", "Hong Kong International Airport"),
}


def name_served_airports(apps, schema_editor):
    Airport = apps.get_model("reservations", "Airport")
    for airport in Airport.objects.filter(iata_code__in=PLACES):
        # The English names were set by 0009; this adds the Chinese ones.
        _city, city_zh, name_zh, _name = PLACES[airport.iata_code]
        airport.city_zh, airport.name_zh = city_zh, name_zh
        airport.save(update_fields=["city_zh", "name_zh"])


class Migration(migrations.Migration):
    dependencies = [
        ("reservations", "0009_airport_names_people_use"),
    ]

    operations = [
        migrations.AddField(
            model_name="airport",
            name="city_zh",
            field=models.CharField(blank=True, max_length=100, verbose_name="city in Chinese"),
        ),
        migrations.AddField(
            model_name="airport",
            name="name_zh",
            field=models.CharField(blank=True, max_length=200, verbose_name="name in Chinese"),
        ),
        migrations.RunPython(name_served_airports, migrations.RunPython.noop),
    ]
