"""Chinese, Spanish and German translations of the photo set's test captions (``photos.py``).

Written by hand for the multilingual check of `bundled:multilingual` (issue 23): each English
caption of the test split, translated the way a native speaker would phrase it as a search —
natural words, not word for word ("ladybird" is 瓢虫 / mariquita / Marienkäfer). Used by
``photos.py --lang zh|es|de``; an English caption missing here is an error, not a silent fallback.
"""

from __future__ import annotations

LANGS = ("zh", "es", "de")

# English caption -> (Chinese, Spanish, German)
TRANSLATIONS: dict[str, tuple[str, str, str]] = {
    "an astronaut in an orange spacesuit": (
        "穿橙色宇航服的宇航员",
        "un astronauta con un traje espacial naranja",
        "ein Astronaut in einem orangefarbenen Raumanzug",
    ),
    "a smiling woman astronaut with her helmet": (
        "拿着头盔微笑的女宇航员",
        "una astronauta sonriente con su casco",
        "eine lächelnde Astronautin mit ihrem Helm",
    ),
    "a man taking a picture with a camera on a tripod": (
        "一个男人用三脚架上的相机拍照",
        "un hombre haciendo una foto con una cámara sobre un trípode",
        "ein Mann fotografiert mit einer Kamera auf einem Stativ",
    ),
    "black and white photo of a cameraman in a park": (
        "公园里摄影师的黑白照片",
        "foto en blanco y negro de un fotógrafo en un parque",
        "Schwarzweißfoto eines Kameramanns in einem Park",
    ),
    "a cat": ("一只猫", "un gato", "eine Katze"),
    "close-up of a tabby cat's face": (
        "虎斑猫脸部特写",
        "primer plano de la cara de un gato atigrado",
        "Nahaufnahme des Gesichts einer getigerten Katze",
    ),
    "old coins": ("古钱币", "monedas antiguas", "alte Münzen"),
    "rows of ancient coins on a dark background": (
        "深色背景上一排排古代钱币",
        "filas de monedas antiguas sobre un fondo oscuro",
        "Reihen antiker Münzen auf dunklem Hintergrund",
    ),
    "a rocket on a launch pad": (
        "发射台上的火箭",
        "un cohete en la plataforma de lanzamiento",
        "eine Rakete auf der Startrampe",
    ),
    "a space rocket at night before launch": (
        "夜间发射前的航天火箭",
        "un cohete espacial de noche antes del lanzamiento",
        "eine Weltraumrakete nachts vor dem Start",
    ),
    "grass": ("草", "hierba", "Gras"),
    "close-up of blades of grass in black and white": (
        "草叶的黑白特写",
        "primer plano de briznas de hierba en blanco y negro",
        "Nahaufnahme von Grashalmen in Schwarzweiß",
    ),
    "gravel": ("碎石", "grava", "Kies"),
    "a heap of small stones": ("一堆小石子", "un montón de piedras pequeñas", "ein Haufen kleiner Steine"),
    "stained tissue under a microscope": (
        "显微镜下的染色组织",
        "tejido teñido bajo el microscopio",
        "gefärbtes Gewebe unter dem Mikroskop",
    ),
    "a microscope slide of cells stained brown and blue": (
        "染成棕色和蓝色的细胞显微镜切片",
        "una preparación de microscopio con células teñidas de marrón y azul",
        "ein Mikroskoppräparat mit braun und blau gefärbten Zellen",
    ),
    "the surface of the moon": ("月球表面", "la superficie de la luna", "die Oberfläche des Mondes"),
    "craters on the lunar surface": (
        "月面上的陨石坑",
        "cráteres en la superficie lunar",
        "Krater auf der Mondoberfläche",
    ),
    "portrait of an old woman in a navy uniform": (
        "穿海军制服的老年妇女肖像",
        "retrato de una anciana con uniforme de la marina",
        "Porträt einer älteren Frau in Marineuniform",
    ),
    "an elderly woman with glasses and a military cap": (
        "戴眼镜和军帽的老太太",
        "una mujer mayor con gafas y gorra militar",
        "eine ältere Frau mit Brille und Militärmütze",
    ),
    "slices of oranges and lemons": ("橙子和柠檬切片", "rodajas de naranja y limón", "Orangen- und Zitronenscheiben"),
    "sliced citrus fruit": ("切开的柑橘类水果", "cítricos en rodajas", "aufgeschnittene Zitrusfrüchte"),
    "a bee on a flower": ("花上的一只蜜蜂", "una abeja en una flor", "eine Biene auf einer Blume"),
    "a honey bee on a purple aster": (
        "紫菀花上的蜜蜂",
        "una abeja de la miel sobre un áster morado",
        "eine Honigbiene auf einer lila Aster",
    ),
    "a chameleon": ("一只变色龙", "un camaleón", "ein Chamäleon"),
    "a lizard climbing a branch": (
        "爬树枝的蜥蜴",
        "un lagarto trepando por una rama",
        "eine Eidechse, die auf einen Ast klettert",
    ),
    "a small bird on a tree trunk": (
        "树干上的一只小鸟",
        "un pájaro pequeño en el tronco de un árbol",
        "ein kleiner Vogel an einem Baumstamm",
    ),
    "a nuthatch clinging to the bark of a tree": (
        "紧贴在树皮上的䴓鸟",
        "un trepador azul agarrado a la corteza de un árbol",
        "ein Kleiber, der sich an die Baumrinde klammert",
    ),
    "a fig in a red bowl": ("红碗里的无花果", "un higo en un cuenco rojo", "eine Feige in einer roten Schale"),
    "half a fig on a red dish": (
        "红盘子上的半个无花果",
        "medio higo en un plato rojo",
        "eine halbe Feige auf einem roten Teller",
    ),
    "paint brushes": ("画笔", "pinceles", "Pinsel"),
    "colourful brushes covered in paint": (
        "沾满颜料的彩色画笔",
        "pinceles de colores cubiertos de pintura",
        "bunte Pinsel voller Farbe",
    ),
    "a mountain landscape in autumn": ("秋天的山景", "un paisaje de montaña en otoño", "eine Berglandschaft im Herbst"),
    "green meadow and autumn trees below a mountain": (
        "山脚下的绿色草地和秋天的树",
        "un prado verde y árboles otoñales al pie de una montaña",
        "grüne Wiese und herbstliche Bäume unter einem Berg",
    ),
    "two dogs looking out of a window": (
        "两只狗从窗户往外看",
        "dos perros mirando por una ventana",
        "zwei Hunde schauen aus einem Fenster",
    ),
    "brown spaniels peeking out of a wooden house": (
        "从木屋里探出头的棕色猎犬",
        "spaniels marrones asomándose desde una casa de madera",
        "braune Spaniel schauen aus einem Holzhaus",
    ),
    "a wall clock": ("挂钟", "un reloj de pared", "eine Wanduhr"),
    "close-up of a clock face with its hands": (
        "钟面和指针的特写",
        "primer plano de la esfera de un reloj con sus agujas",
        "Nahaufnahme eines Zifferblatts mit Zeigern",
    ),
    "a stream in a forest": ("森林里的小溪", "un arroyo en un bosque", "ein Bach im Wald"),
    "a creek flowing over rocks among trees": (
        "树林间流过岩石的溪水",
        "un riachuelo que corre entre rocas y árboles",
        "ein Bach, der zwischen Bäumen über Felsen fließt",
    ),
    "a path in the mountains": ("山间小路", "un sendero en la montaña", "ein Weg in den Bergen"),
    "rocky mountain peaks with snow": ("积雪的岩石山峰", "picos rocosos con nieve", "felsige Berggipfel mit Schnee"),
    "a sunset": ("日落", "una puesta de sol", "ein Sonnenuntergang"),
    "the sun going down over the hills": (
        "太阳从山丘上落下",
        "el sol poniéndose sobre las colinas",
        "die Sonne geht über den Hügeln unter",
    ),
    "steel cables against a blue sky": (
        "蓝天下的钢缆",
        "cables de acero contra el cielo azul",
        "Stahlseile vor blauem Himmel",
    ),
    "a beach seen between the cables of a bridge": (
        "从桥的钢索间看到的海滩",
        "una playa vista entre los cables de un puente",
        "ein Strand zwischen den Seilen einer Brücke gesehen",
    ),
    "a dragonfly": ("一只蜻蜓", "una libélula", "eine Libelle"),
    "a dragonfly on a twig among green leaves": (
        "绿叶间细枝上的蜻蜓",
        "una libélula en una ramita entre hojas verdes",
        "eine Libelle auf einem Zweig zwischen grünen Blättern",
    ),
    "a splash of water": ("水花", "una salpicadura de agua", "ein Wasserspritzer"),
    "a drop falling into water": ("落入水中的水滴", "una gota cayendo al agua", "ein Tropfen fällt ins Wasser"),
    "a green leaf": ("一片绿叶", "una hoja verde", "ein grünes Blatt"),
    "the veins of a large green leaf up close": (
        "一片大绿叶的叶脉特写",
        "las nervaduras de una hoja verde grande de cerca",
        "die Adern eines großen grünen Blattes aus der Nähe",
    ),
    "dune grass by the sea": ("海边沙丘上的草", "hierba de las dunas junto al mar", "Dünengras am Meer"),
    "tall grass on a sand dune near the beach": (
        "海滩附近沙丘上的高草",
        "hierba alta en una duna cerca de la playa",
        "hohes Gras auf einer Sanddüne am Strand",
    ),
    "an orange flower": ("一朵橙色的花", "una flor naranja", "eine orangefarbene Blume"),
    "orange petals seen up close": (
        "橙色花瓣特写",
        "pétalos naranjas vistos de cerca",
        "orangefarbene Blütenblätter aus der Nähe",
    ),
    "a red marigold": ("一朵红色的万寿菊", "una caléndula roja", "eine rote Ringelblume"),
    "a red and yellow flower in a garden": (
        "花园里一朵红黄相间的花",
        "una flor roja y amarilla en un jardín",
        "eine rot-gelbe Blume in einem Garten",
    ),
    "green grass": ("绿草", "hierba verde", "grünes Gras"),
    "a meadow of fresh green grass": (
        "一片青翠的草地",
        "un prado de hierba verde y fresca",
        "eine Wiese mit frischem grünem Gras",
    ),
    "a ladybird": ("一只瓢虫", "una mariquita", "ein Marienkäfer"),
    "a ladybug on a stem among small blue flowers": (
        "蓝色小花间茎上的瓢虫",
        "una mariquita en un tallo entre pequeñas flores azules",
        "ein Marienkäfer auf einem Stängel zwischen kleinen blauen Blumen",
    ),
    "raindrops on leaves": ("叶子上的雨滴", "gotas de lluvia sobre las hojas", "Regentropfen auf Blättern"),
    "water droplets on green leaves": (
        "绿叶上的水珠",
        "gotas de agua sobre hojas verdes",
        "Wassertropfen auf grünen Blättern",
    ),
    "storm clouds": ("暴风云", "nubes de tormenta", "Gewitterwolken"),
    "a dark cloudy sky over a road": (
        "道路上方阴沉多云的天空",
        "un cielo oscuro y nublado sobre una carretera",
        "ein dunkler, bewölkter Himmel über einer Straße",
    ),
    "wood": ("木头", "madera", "Holz"),
    "a pale wooden surface": ("浅色的木质表面", "una superficie de madera clara", "eine helle Holzoberfläche"),
    "a yellow flower": ("一朵黄花", "una flor amarilla", "eine gelbe Blume"),
    "yellow petals of a daisy close-up": (
        "雏菊黄色花瓣特写",
        "primer plano de los pétalos amarillos de una margarita",
        "gelbe Blütenblätter eines Gänseblümchens in Nahaufnahme",
    ),
    "colourful cups": ("彩色杯子", "vasos de colores", "bunte Becher"),
    "rows of plastic cups seen from above": (
        "从上方看到的一排排塑料杯",
        "filas de vasos de plástico vistos desde arriba",
        "Reihen von Plastikbechern von oben gesehen",
    ),
    "a fallen leaf": ("一片落叶", "una hoja caída", "ein gefallenes Blatt"),
    "a maple leaf on the ground in autumn": (
        "秋天落在地上的枫叶",
        "una hoja de arce en el suelo en otoño",
        "ein Ahornblatt im Herbst auf dem Boden",
    ),
    "a kite in the sky": ("天上的风筝", "una cometa en el cielo", "ein Drachen am Himmel"),
    "a kite flying among white clouds": (
        "在白云间飞翔的风筝",
        "una cometa volando entre nubes blancas",
        "ein Drachen fliegt zwischen weißen Wolken",
    ),
    "a path through a forest": ("穿过森林的小路", "un camino a través de un bosque", "ein Weg durch einen Wald"),
    "a trail among pine trees": ("松树间的小径", "un sendero entre pinos", "ein Pfad zwischen Kiefern"),
    "a jetty in the fog": ("雾中的栈桥", "un embarcadero en la niebla", "ein Steg im Nebel"),
    "a wooden pier on a misty lake": (
        "雾气弥漫的湖上的木码头",
        "un muelle de madera en un lago con niebla",
        "ein Holzsteg auf einem nebligen See",
    ),
    "a wooden deck by a lake": (
        "湖边的木平台",
        "una plataforma de madera junto a un lago",
        "eine Holzterrasse an einem See",
    ),
    "boards of a pier by the water": (
        "水边码头的木板",
        "tablas de un muelle junto al agua",
        "Bretter eines Stegs am Wasser",
    ),
    "moss": ("苔藓", "musgo", "Moos"),
    "green moss plants seen from above": (
        "从上方看到的绿色苔藓",
        "plantas de musgo verde vistas desde arriba",
        "grüne Moospflanzen von oben gesehen",
    ),
    "a calm lake at dusk": (
        "黄昏时平静的湖面",
        "un lago en calma al atardecer",
        "ein ruhiger See in der Abenddämmerung",
    ),
    "a purple evening sky over the water": (
        "水面上紫色的傍晚天空",
        "un cielo violeta al anochecer sobre el agua",
        "ein violetter Abendhimmel über dem Wasser",
    ),
}
