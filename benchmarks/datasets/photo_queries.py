"""Queries about the real-photo set (photos.py) in a different style from its captions.

photos.py's captions are short labels ("a cat", "a red motorcycle"). The queries here were
written afterwards, by looking at each photo, the way someone describes a picture they remember:
a full sentence with colours, setting and what is going on ("a tabby cat staring straight at the
camera with green eyes"). They are never used to build or train anything.

ABSENT_* are queries about subjects that appear in no photo of the set, in both styles: the
right answer to each is "nothing here is a strong match". A few are near misses on purpose (a
photo of the same setting without the subject: a lake but no swan, a forest but no deer).
"""

from __future__ import annotations

# image path in the photos folder -> a descriptive query about it
DESCRIPTIVE: dict[str, str] = {
    "images/skimage/astronaut.png": "a smiling woman in an orange space suit in front of an American flag and a model of the shuttle",
    "images/skimage/camera.png": "a black and white photo of a man in a dark coat filming with a camera on a tripod on a lawn",
    "images/skimage/chelsea.png": "a tabby cat with green eyes staring straight at the camera",
    "images/skimage/coffee.png": "a small cup of espresso on a red saucer with a spoon on a wooden table",
    "images/skimage/coins.png": "rows of old silver coins laid out on a black background",
    "images/skimage/rocket.jpg": "a white rocket standing on the launch pad at dusk between lightning towers",
    "images/skimage/motorcycle_left.png": "a red motorbike parked in a cluttered garage next to shelves of boxes",
    "images/skimage/hubble_deep_field.jpg": "thousands of tiny colourful galaxies scattered across a black sky",
    "images/skimage/retina.jpg": "a round orange image of the inside of an eye with red blood vessels branching out",
    "images/skimage/brick.png": "a grey brick wall seen straight on, the bricks laid in staggered rows",
    "images/skimage/grass.png": "a monochrome close-up of dry grass and blades lying in every direction",
    "images/skimage/gravel.png": "a grey texture of countless small sharp stones",
    "images/skimage/ihc.png": "brown rings of stained cells among pale blue tissue under the microscope",
    "images/skimage/moon.png": "a grey lunar landscape with a few round craters",
    "images/sklearn/china.jpg": "a tall red and green Chinese tower on a hill above a lake, framed by trees",
    "images/sklearn/flower.jpg": "a peach coloured dahlia with perfectly rounded petals against dark green leaves",
    "images/matplotlib/grace_hopper.jpg": "an old lady in glasses wearing a dark navy uniform and cap in front of a flag",
    "images/palapeli/castle-maintenon.jpg": "a grand stone chateau with slate roofs and round towers beside a lawn under a blue sky",
    "images/palapeli/cincinnati-bridge.jpg": "an old suspension bridge lit up in orange at night, reflected in the river",
    "images/palapeli/citrus-fruits.jpg": "thin slices of orange, lemon and lime lit from behind so they glow",
    "images/palapeli/european-honey-bee.jpg": "a striped honey bee collecting pollen from a purple daisy with a yellow centre",
    "images/palapeli/panther-chameleon-female.jpg": "a dark orange and black lizard gripping a branch with its curled tail",
    "images/lomiri/Kleiber_by_Lukas_Baubkus.jpg": "a little bird hanging head down on the bark of a tree trunk, background blurred",
    "images/lomiri/Picture_0B_by_freespace.jpg": "a cut fig showing its pink inside, lying in an orange bowl on a concrete floor",
    "images/lomiri/Picture_1A_by_freespace.jpg": "a bunch of paintbrushes with blue, pink and green paint dried on their bristles",
    "images/lomiri/Wine_by_Jakkub_Mede.jpg": "an African drum resting on a white bean bag with a bottle of red wine on a small table behind",
    "images/lomiri/aitzgorri_by_Aitzol_Berasategi.jpg": "a green field in front of a forest turning orange and a bare grey mountain ridge",
    "images/lomiri/free_by_Peter_Nerlich.jpg": "a small wooden bird with spread wings hanging from a ceiling lamp",
    "images/lomiri/friends_by_Aitzol_Berasategi.jpg": "two brown cocker spaniels poking their heads out of a wooden shed",
    "images/lomiri/greentock_by_Peter_Nerlich.jpg": "a white clock face seen at an angle with thin black hands and glowing numerals",
    "images/lomiri/life_by_Aitzol_Berasategi.jpg": "a small waterfall running over mossy rocks in a green wood",
    "images/lomiri/picosdeeuropa_by_Aitzol_Berasategi.jpg": "a dirt track across a grassy plateau towards jagged snowy peaks under white clouds",
    "images/lomiri/seeding_by_Clements_Engelhardt.jpg": "white fluffy dandelion clocks in a meadow with the evening sun behind them",
    "images/lomiri/sunset_by_Aitzol_Berasategi.jpg": "the sun setting over distant hills seen from a rocky summit with a glass marker",
    "images/lomiri/Bridge_by_Sander_Klootwijk.jpg": "white cables crossing a pale blue sky above a wide sandy beach",
    "images/lomiri/Dragonfly_by_Bolly.jpg": "a green dragonfly resting on a twig in front of leaves and a blue sky",
    "images/mate/Aqua.jpg": "a single drop of water hitting the surface and making a crown-shaped splash",
    "images/mate/Blinds.jpg": "a bright lime green leaf lit from behind, its parallel veins curving",
    "images/mate/Dune.jpg": "golden stalks of grass blowing on a dune with the blue sea behind",
    "images/mate/FreshFlower.jpg": "a macro shot of bright orange petals filling the whole picture",
    "images/mate/Garden.jpg": "a deep red marigold with yellow edges in a blurry orange garden",
    "images/mate/GreenMeadow.jpg": "young green shoots of grass growing densely, all pointing upward",
    "images/mate/LadyBird.jpg": "a red ladybug climbing a blade of grass among little blue forget-me-nots",
    "images/mate/RainDrops.jpg": "beads of water sitting on broad green leaves after rain",
    "images/mate/Storm.jpg": "dark grey storm clouds over a motorway with a guard rail in the foreground",
    "images/mate/TwoWings.jpg": "two feathery seeds on a stem in front of blurred orange blossoms",
    "images/mate/Wood.jpg": "a close view of pale cream coloured wooden planks",
    "images/mate/YellowFlower.jpg": "the bright yellow petals and dark centre of a daisy-like flower",
    "images/plasma/ColorfulCups.jpg": "looking down into rows of blue and red plastic cups",
    "images/plasma/EveningGlow.jpg": "a row of wooden rowing boats pulled up on a pebble beach at sunset",
    "images/plasma/FallenLeaf.jpg": "a brown maple leaf lying among other autumn leaves on the ground",
    "images/plasma/Kite.jpg": "a tiny rainbow-coloured kite high in a deep blue sky with wisps of cloud",
    "images/plasma/Path.jpg": "a narrow trail running through a dark forest of tall pine trees and ferns",
    "images/plasma/ColdRipple.jpg": "a wooden jetty leading out into grey fog over still water",
    "images/plasma/BytheWater.jpg": "sunlit wooden boards by a lake with blurred water and trees beyond",
    "images/plasma/OneStandsOut.jpg": "star-shaped green moss seen from above with one orange sprig",
    "images/plasma/summer_1am.jpg": "a still lake under a pink and purple sky at dusk with reeds on the right",
}

# subjects in no photo of the set: short labels, as photos.py's captions are
ABSENT_SHORT: list[str] = [
    "a red double-decker bus", "a grand piano", "a birthday cake", "a snowman", "a laptop computer",
    "a plate of sushi", "a horse", "a sailing yacht", "a fire engine", "a violin", "an elephant",
    "a pizza", "a skyscraper", "a football match", "a wedding", "a tractor", "a penguin",
    "a bowl of ramen", "a hot air balloon", "a shark", "a bicycle", "a teddy bear",
    "a lighthouse", "a cow in a field", "a crowded train station", "a pair of sneakers",
    "a swan on a lake", "a deer in the forest", "a beach umbrella", "a city at night",
]

# the same kind of subjects, described the way DESCRIPTIVE describes the photos
ABSENT_DESCRIPTIVE: list[str] = [
    "a red double-decker bus driving down a busy London street in the rain",
    "a black grand piano on a stage with a spotlight on its keys",
    "a child blowing out candles on a chocolate birthday cake",
    "a snowman with a carrot nose and a striped scarf in a snowy garden",
    "an open laptop on a desk next to a notebook and a mug of tea",
    "a wooden board of salmon and tuna sushi with chopsticks",
    "a brown horse grazing in a paddock behind a white fence",
    "a sailing yacht with white sails heeling in a strong wind",
    "a red fire engine parked outside a fire station with its lights on",
    "a violinist playing on a street corner with an open case for coins",
    "an elephant spraying water with its trunk at a muddy river",
    "a pizza with melted mozzarella and basil fresh out of a wood oven",
    "glass skyscrapers reflecting each other in a financial district",
    "football players celebrating a goal in a packed stadium",
    "a bride and groom cutting their wedding cake",
    "a green tractor ploughing a muddy field with gulls following it",
    "a group of penguins standing on an ice floe",
    "a steaming bowl of ramen with a soft boiled egg and spring onions",
    "colourful hot air balloons rising over a valley at sunrise",
    "a great white shark swimming just below the surface of the sea",
    "a racing bicycle leaning against a brick wall in the sun",
    "a worn teddy bear sitting on an unmade bed",
    "a white lighthouse on a rocky cape with waves crashing below",
    "black and white cows lying in a green field",
    "commuters hurrying across the hall of a crowded train station",
    "a pair of white running shoes on a doormat",
    "a white swan gliding across a calm lake in the morning",
    "a young deer standing between the trees of a misty forest",
    "striped umbrellas and sunbathers on a crowded beach",
    "a city skyline at night with lit windows and traffic trails",
]
