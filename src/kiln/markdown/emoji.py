"""Emoji shortcodes (`:thumbsup:`) rendered as GitLab's `<gl-emoji>` element.

A compact built-in table of the names people use on GitLab, not the full gemoji set: an
unknown name stays plain text, as GitLab leaves unknown names. The `title` GitLab shows is
the Unicode character name, which `unicodedata` knows, so the table only maps names to
characters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.renderer import RendererProtocol
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict

from kiln.markdown.context import RenderEnv, get_env
from kiln.markdown.markup import element, escape

# name char, one per line; later names for the same character are aliases.
_TABLE = """
thumbsup 👍
+1 👍
thumbsdown 👎
-1 👎
smile 😄
smiley 😃
grinning 😀
grin 😁
laughing 😆
satisfied 😆
sweat_smile 😅
joy 😂
rofl 🤣
innocent 😇
wink 😉
blush 😊
slight_smile 🙂
upside_down 🙃
heart_eyes 😍
kissing_heart 😘
yum 😋
stuck_out_tongue 😛
stuck_out_tongue_winking_eye 😜
money_mouth 🤑
hugging 🤗
thinking 🤔
zipper_mouth 🤐
neutral_face 😐
expressionless 😑
no_mouth 😶
smirk 😏
unamused 😒
rolling_eyes 🙄
roll_eyes 🙄
grimacing 😬
lying_face 🤥
relieved 😌
pensive 😔
sleepy 😪
sleeping 😴
mask 😷
nauseated_face 🤢
sneezing_face 🤧
cowboy 🤠
clown 🤡
nerd 🤓
sunglasses 😎
confused 😕
worried 😟
slight_frown 🙁
frowning2 ☹
open_mouth 😮
hushed 😯
astonished 😲
flushed 😳
fearful 😨
cold_sweat 😰
cry 😢
sob 😭
scream 😱
confounded 😖
persevere 😣
disappointed 😞
sweat 😓
weary 😩
tired_face 😫
angry 😠
rage 😡
triumph 😤
smiling_imp 😈
imp 👿
skull 💀
poop 💩
hankey 💩
ghost 👻
alien 👽
robot 🤖
see_no_evil 🙈
hear_no_evil 🙉
speak_no_evil 🙊
wave 👋
ok_hand 👌
v ✌
point_up ☝
point_up_2 👆
point_down 👇
point_left 👈
point_right 👉
raised_hand ✋
hand ✋
clap 👏
pray 🙏
handshake 🤝
fingers_crossed 🤞
metal 🤘
call_me 🤙
writing_hand ✍
nail_care 💅
muscle 💪
fist ✊
punch 👊
raised_hands 🙌
eyes 👀
face_palm 🤦
facepalm 🤦
shrug 🤷
baby 👶
bust_in_silhouette 👤
busts_in_silhouette 👥
heart ❤
broken_heart 💔
yellow_heart 💛
green_heart 💚
blue_heart 💙
purple_heart 💜
sparkling_heart 💖
two_hearts 💕
kiss 💋
100 💯
fire 🔥
sparkles ✨
star ⭐
star2 🌟
zap ⚡
boom 💥
collision 💥
zzz 💤
sweat_drops 💦
dash 💨
tada 🎉
confetti_ball 🎊
balloon 🎈
gift 🎁
birthday 🎂
cake 🍰
cookie 🍪
pizza 🍕
apple 🍎
coffee ☕
beer 🍺
beers 🍻
trophy 🏆
medal 🏅
dart 🎯
game_die 🎲
video_game 🎮
musical_note 🎵
notes 🎶
art 🎨
performing_arts 🎭
rocket 🚀
airplane ✈
ship 🚢
car 🚗
bike 🚲
ambulance 🚑
house 🏠
office 🏢
construction 🚧
rotating_light 🚨
vertical_traffic_light 🚦
checkered_flag 🏁
triangular_flag_on_post 🚩
bug 🐛
beetle 🐞
ant 🐜
bee 🐝
snail 🐌
butterfly 🦋
snake 🐍
turtle 🐢
crab 🦀
octopus 🐙
whale 🐳
monkey 🐒
dog 🐶
cat 🐱
fox 🦊
lion_face 🦁
tiger 🐯
cow 🐮
pig 🐷
frog 🐸
panda_face 🐼
koala 🐨
elephant 🐘
penguin 🐧
chicken 🐔
bird 🐦
baby_chick 🐤
unicorn 🦄
rose 🌹
four_leaf_clover 🍀
sunflower 🌻
cactus 🌵
evergreen_tree 🌲
sunny ☀
cloud ☁
umbrella ☔
snowflake ❄
rainbow 🌈
crescent_moon 🌙
comet ☄
earth_americas 🌎
earth_africa 🌍
globe_with_meridians 🌐
white_check_mark ✅
heavy_check_mark ✔
ballot_box_with_check ☑
x ❌
heavy_multiplication_x ✖
negative_squared_cross_mark ❎
warning ⚠
no_entry ⛔
no_entry_sign 🚫
question ❓
grey_question ❔
exclamation ❗
heavy_exclamation_mark ❗
grey_exclamation ❕
bulb 💡
lock 🔒
unlock 🔓
key 🔑
wrench 🔧
hammer 🔨
tools 🛠
hammer_and_wrench 🛠
gear ⚙
shield 🛡
crossed_swords ⚔
link 🔗
paperclip 📎
pushpin 📌
bookmark 🔖
label 🏷
memo 📝
pencil 📝
pencil2 ✏
book 📖
open_book 📖
books 📚
scroll 📜
page_facing_up 📄
page_with_curl 📃
bookmark_tabs 📑
file_folder 📁
open_file_folder 📂
card_index_dividers 🗂
card_box 🗃
file_cabinet 🗄
wastebasket 🗑
clipboard 📋
briefcase 💼
receipt 🧾
calendar 📆
date 📅
chart_with_upwards_trend 📈
chart_with_downwards_trend 📉
bar_chart 📊
package 📦
email 📧
envelope ✉
inbox_tray 📥
outbox_tray 📤
bell 🔔
no_bell 🔕
mag 🔍
mag_right 🔎
hourglass ⌛
hourglass_flowing_sand ⏳
watch ⌚
alarm_clock ⏰
computer 💻
desktop 🖥
keyboard ⌨
iphone 📱
floppy_disk 💾
cd 💿
camera 📷
movie_camera 🎥
tv 📺
battery 🔋
electric_plug 🔌
test_tube 🧪
broom 🧹
toolbox 🧰
bricks 🧱
speech_balloon 💬
thought_balloon 💭
crown 👑
gem 💎
moneybag 💰
dollar 💵
credit_card 💳
ok 🆗
new 🆕
free 🆓
cool 🆒
up 🆙
sos 🆘
top 🔝
soon 🔜
arrow_up ⬆
arrow_down ⬇
arrow_left ⬅
arrow_right ➡
arrows_counterclockwise 🔄
repeat 🔁
leftwards_arrow_with_hook ↩
arrow_right_hook ↪
heavy_plus_sign \N{HEAVY PLUS SIGN}
heavy_minus_sign \N{HEAVY MINUS SIGN}
heavy_division_sign \N{HEAVY DIVISION SIGN}
red_circle 🔴
large_blue_circle 🔵
white_circle ⚪
black_circle ⚫
large_orange_diamond 🔶
small_red_triangle 🔺
recycle ♻
"""

EMOJI: dict[str, str] = dict(line.split(" ", 1) for line in _TABLE.strip().splitlines())

_SHORTCODE = re.compile(r":([a-z0-9_+\-]+):")


@cache
def emoji_title(name: str) -> str:
    """GitLab's tooltip for an emoji: its Unicode name in lower case."""
    char = EMOJI[name]
    if len(char) == 1:
        return unicodedata.name(char, name).lower()
    return name.replace("_", " ")


def gl_emoji(env: RenderEnv, name: str) -> str:
    """The `<gl-emoji>` element for a known emoji name."""
    attrs = (("title", emoji_title(name)), ("data-name", name))
    return element(env, "gl-emoji", attrs, escape(EMOJI[name]))


def _emoji_rule(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if src[pos] != ":":
        return False
    match = _SHORTCODE.match(src, pos, state.posMax)
    if match is None or match.group(1) not in EMOJI:
        return False
    # Like GitLab: a shortcode glued to letters or colons (`a:b:c`, `12:30:45`) is not one.
    before = src[pos - 1] if pos > 0 else " "
    after = src[match.end()] if match.end() < state.posMax else " "
    if before.isalnum() or before == ":" or after.isalnum() or after == ":":
        return False
    if not silent:
        token = state.push("emoji", "", 0)
        token.content = match.group(0)
        token.meta = {"name": match.group(1)}
    state.pos = match.end()
    return True


def _render_emoji(
    self: RendererProtocol, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    return gl_emoji(get_env(env), tokens[idx].meta["name"])


def emoji_plugin(md: MarkdownIt) -> None:
    md.inline.ruler.before("emphasis", "emoji", _emoji_rule)
    md.add_render_rule("emoji", _render_emoji)
