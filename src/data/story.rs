//! [`Story`]: how one synthetic word problem is made, move by move.
//!
//! A story follows one quantity (some person's marbles, then what they are
//! worth, ...). Each move is a grade-school operation told in a sentence:
//! finding more (add), giving away (subtract), "twice as many" and "each ...
//! is worth" (multiply), "half as many", "shared equally" and "bags of"
//! (divide with a whole result), and "together" (add two people's amounts).
//! Every move appends the question's sentence, any new given quantity, one
//! step with its prose sentence, and the question to ask if it is the last.
//! A move is only chosen when its numbers work out: no remainders, nothing
//! negative, nothing beyond a cap, so every answer is a whole number.

use std::collections::BTreeSet;

use super::{Expression, Given, Number, Operation, Problem, Step};
use crate::random::Stream;

const PEOPLE: [(&str, &str); 24] = [
    ("Liam", "he"),
    ("Ava", "she"),
    ("Noah", "he"),
    ("Mia", "she"),
    ("Ethan", "he"),
    ("Zoe", "she"),
    ("Lucas", "he"),
    ("Emma", "she"),
    ("Omar", "he"),
    ("Priya", "she"),
    ("Mateo", "he"),
    ("Chloe", "she"),
    ("Kenji", "he"),
    ("Sofia", "she"),
    ("Jamal", "he"),
    ("Hannah", "she"),
    ("Diego", "he"),
    ("Grace", "she"),
    ("Samuel", "he"),
    ("Leila", "she"),
    ("Tom", "he"),
    ("Nina", "she"),
    ("Felix", "he"),
    ("Rosa", "she"),
];

/// Things people count: singular, plural.
const ITEMS: [(&str, &str); 20] = [
    ("marble", "marbles"),
    ("apple", "apples"),
    ("sticker", "stickers"),
    ("book", "books"),
    ("pencil", "pencils"),
    ("cookie", "cookies"),
    ("card", "cards"),
    ("shell", "shells"),
    ("stamp", "stamps"),
    ("toy car", "toy cars"),
    ("balloon", "balloons"),
    ("cupcake", "cupcakes"),
    ("coin", "coins"),
    ("bead", "beads"),
    ("flower", "flowers"),
    ("egg", "eggs"),
    ("orange", "oranges"),
    ("crayon", "crayons"),
    ("ribbon", "ribbons"),
    ("candy", "candies"),
];

/// Ways to get more: present, past, gerund.
const GAINS: [(&str, &str, &str); 5] = [
    ("finds", "found", "finding"),
    ("buys", "bought", "buying"),
    ("gets", "got", "getting"),
    ("wins", "won", "winning"),
    ("receives", "received", "receiving"),
];

/// Ways to have fewer: present, past, gerund.
const LOSSES: [(&str, &str, &str); 4] = [
    ("gives away", "gave away", "giving_away"),
    ("loses", "lost", "losing"),
    ("sells", "sold", "selling"),
    ("uses", "used", "using"),
];

/// Containers for "puts them into bags of n": singular, plural.
const CONTAINERS: [(&str, &str); 4] = [
    ("bag", "bags"),
    ("box", "boxes"),
    ("jar", "jars"),
    ("basket", "baskets"),
];

/// What a quantity counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    /// An entry of `ITEMS`.
    Item(usize),
    /// An entry of `CONTAINERS`.
    Container(usize),
    /// Dollars.
    Dollars,
}

impl Unit {
    fn plural(self) -> &'static str {
        match self {
            Unit::Item(index) => ITEMS[index].1,
            Unit::Container(index) => CONTAINERS[index].1,
            Unit::Dollars => "dollars",
        }
    }
}

/// Who holds the quantity followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// An entry of `PEOPLE`.
    Person(usize),
    /// Each of the friends a quantity was shared among.
    EachFriend,
}

impl Owner {
    fn name(self) -> &'static str {
        match self {
            Owner::Person(index) => PEOPLE[index].0,
            Owner::EachFriend => "each friend",
        }
    }

    fn capitalised(self) -> String {
        match self {
            Owner::Person(index) => PEOPLE[index].0.to_string(),
            Owner::EachFriend => "Each friend".to_string(),
        }
    }

    fn snake(self) -> String {
        snake_case(self.name())
    }
}

/// The kinds of move a story can make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Move {
    Gain,
    Lose,
    Times,
    Half,
    Share,
    Pack,
    Worth,
    Together,
}

const MOVES: [Move; 8] = [
    Move::Gain,
    Move::Lose,
    Move::Times,
    Move::Half,
    Move::Share,
    Move::Pack,
    Move::Worth,
    Move::Together,
];

/// `"toy cars"` -> `"toy_cars"`.
fn snake_case(text: &str) -> String {
    text.to_lowercase().replace([' ', '-'], "_")
}

/// One holding seen so far, for "together".
#[derive(Debug, Clone, Copy)]
struct Holding {
    owner: Owner,
    unit: Unit,
    value: i64,
    reference: ReferenceTo,
}

#[derive(Debug, Clone, Copy)]
enum ReferenceTo {
    Given(usize),
    Step(usize),
}

impl ReferenceTo {
    fn expression(self) -> Expression {
        match self {
            ReferenceTo::Given(index) => Expression::Given(index),
            ReferenceTo::Step(index) => Expression::Step(index),
        }
    }
}

/// A word problem under construction.
pub struct Story<'a> {
    stream: &'a mut Stream,
    low: i64,
    high: i64,
    cap: i64,
    sentences: Vec<String>,
    givens: Vec<Given>,
    steps: Vec<Step>,
    names: BTreeSet<String>,
    people: Vec<usize>,
    holdings: Vec<Holding>,
    current: Holding,
    asking: String,
}

impl<'a> Story<'a> {
    /// Makes a problem with exactly `steps` reasoning steps whose numbers are
    /// drawn from `low..=high`.
    pub fn tell(stream: &'a mut Stream, steps: usize, low: i64, high: i64) -> Problem {
        let low = low.max(1);
        let high = high.max(low + 1);
        let person = stream.below(PEOPLE.len() as u64) as usize;
        let unit = Unit::Item(stream.below(ITEMS.len() as u64) as usize);
        let value = stream.between(low, high);
        let mut story = Story {
            stream,
            low,
            high,
            cap: high.saturating_mul(100).max(1000),
            sentences: Vec::new(),
            givens: Vec::new(),
            steps: Vec::new(),
            names: BTreeSet::from(["result".to_string()]),
            people: vec![person],
            holdings: Vec::new(),
            current: Holding {
                owner: Owner::Person(person),
                unit,
                value,
                reference: ReferenceTo::Given(0),
            },
            asking: String::new(),
        };
        let owner = Owner::Person(person);
        let name = story.fresh_name(&format!("{}_{}", owner.snake(), snake_case(unit.plural())));
        story.givens.push(Given {
            name,
            value: Number::whole(value),
        });
        story.sentences.push(format!(
            "{} has {value} {}.",
            owner.capitalised(),
            unit.plural()
        ));
        story.holdings.push(story.current);
        for index in 0..steps {
            let last = index + 1 == steps;
            story.make_move(last);
        }
        let mut question = story.sentences.join(" ");
        question.push(' ');
        question.push_str(&story.asking);
        Problem {
            question,
            givens: story.givens,
            reference: Number::whole(story.current.value),
            answer_step: story.steps.len().saturating_sub(1),
            steps: story.steps,
            whole_numbers: true,
            prose: None,
        }
    }

    fn fresh_name(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut counter = 2;
        while self.names.contains(&name) {
            name = format!("{base}_{counter}");
            counter += 1;
        }
        self.names.insert(name.clone());
        name
    }

    fn new_person(&mut self) -> Option<usize> {
        if self.people.len() >= 4 {
            return None;
        }
        loop {
            let candidate = self.stream.below(PEOPLE.len() as u64) as usize;
            if !self.people.contains(&candidate) {
                self.people.push(candidate);
                return Some(candidate);
            }
        }
    }

    /// Divisors of `value` in `low.max(2)..=high`, below `value`.
    fn divisors(&self, value: i64) -> Vec<i64> {
        (self.low.max(2)..=self.high.min(value - 1))
            .filter(|divisor| value % divisor == 0)
            .collect()
    }

    fn partner(&self) -> Option<Holding> {
        self.holdings.iter().rev().copied().find(|holding| {
            holding.unit == self.current.unit
                && matches!(holding.owner, Owner::Person(_))
                && matches!(self.current.owner, Owner::Person(_))
                && holding.owner != self.current.owner
        })
    }

    fn possible(&self, kind: Move, last: bool) -> bool {
        let value = self.current.value;
        match kind {
            Move::Gain => value + self.low <= self.cap,
            Move::Lose => value > self.low,
            Move::Times => value * 2 <= self.cap && self.people.len() < 4,
            Move::Half => value % 2 == 0 && value >= 2 && self.people.len() < 4,
            Move::Share => {
                self.current.owner != Owner::EachFriend && !self.divisors(value).is_empty()
            }
            Move::Pack => {
                matches!(self.current.unit, Unit::Item(_)) && !self.divisors(value).is_empty()
            }
            Move::Worth => {
                matches!(self.current.unit, Unit::Item(_)) && value * self.low.max(2) <= self.cap
            }
            Move::Together => last && self.partner().is_some(),
        }
    }

    fn make_move(&mut self, last: bool) {
        let possible: Vec<Move> = MOVES
            .into_iter()
            .filter(|kind| self.possible(*kind, last))
            .collect();
        // Gain or Lose is always possible: a value too large to gain on is
        // larger than `low` and can lose.
        let kind = possible
            .get(self.stream.below(possible.len() as u64) as usize)
            .copied()
            .unwrap_or(Move::Gain);
        let owner = self.current.owner;
        let unit = self.current.unit.plural();
        let value = self.current.value;
        let current = self.current.reference.expression();
        match kind {
            Move::Gain => {
                let (present, past, gerund) = GAINS[self.stream.below(GAINS.len() as u64) as usize];
                let amount = self
                    .stream
                    .between(self.low, self.high.min(self.cap - value).max(self.low));
                let given = self.add_given(
                    &format!("{}_{past}", snake_case(unit)).replace(' ', "_"),
                    amount,
                );
                self.sentences.push(format!(
                    "{} {present} {amount} more {unit}.",
                    owner.capitalised()
                ));
                self.add_step(
                    &format!("{}_after_{gerund}", snake_case(unit)),
                    Expression::binary(Operation::Add, current, Expression::Given(given)),
                    format!(
                        "{} {past} {amount} more {unit}, so {} has {{arithmetic}} {unit}.",
                        owner.capitalised(),
                        owner.name()
                    ),
                    value + amount,
                    owner,
                    self.current.unit,
                );
                self.asking = format!("How many {unit} does {} have now?", owner.name());
            }
            Move::Lose => {
                let (present, past, _) = LOSSES[self.stream.below(LOSSES.len() as u64) as usize];
                let amount = self.stream.between(self.low, (value - 1).min(self.high));
                let given = self.add_given(
                    &format!("{}_{}", snake_case(unit), snake_case(past)),
                    amount,
                );
                self.sentences.push(format!(
                    "{} {present} {amount} {unit}.",
                    owner.capitalised()
                ));
                self.add_step(
                    &format!("{}_left", snake_case(unit)),
                    Expression::binary(Operation::Subtract, current, Expression::Given(given)),
                    format!(
                        "After {} {past} {amount} {unit}, {{arithmetic}} {unit} are left.",
                        owner.name()
                    ),
                    value - amount,
                    owner,
                    self.current.unit,
                );
                self.asking = format!("How many {unit} does {} have left?", owner.name());
            }
            Move::Times => {
                let largest = (self.cap / value.max(1)).clamp(2, 4);
                let factor = self.stream.between(2, largest);
                let words = match factor {
                    2 => "twice",
                    3 => "three times",
                    _ => "four times",
                };
                let other = Owner::Person(self.new_person().unwrap_or(0));
                self.sentences.push(format!(
                    "{} has {words} as many {unit} as {}.",
                    other.capitalised(),
                    owner.name()
                ));
                self.add_step(
                    &format!("{}_{}", other.snake(), snake_case(unit)),
                    Expression::binary(
                        Operation::Multiply,
                        current,
                        Expression::Literal(Number::whole(factor)),
                    ),
                    format!("{} has {{arithmetic}} {unit}.", other.capitalised()),
                    value * factor,
                    other,
                    self.current.unit,
                );
                self.asking = format!("How many {unit} does {} have?", other.name());
            }
            Move::Half => {
                let other = Owner::Person(self.new_person().unwrap_or(0));
                self.sentences.push(format!(
                    "{} has half as many {unit} as {}.",
                    other.capitalised(),
                    owner.name()
                ));
                self.add_step(
                    &format!("{}_{}", other.snake(), snake_case(unit)),
                    Expression::binary(
                        Operation::FloorDivide,
                        current,
                        Expression::Literal(Number::whole(2)),
                    ),
                    format!("{} has {{arithmetic}} {unit}.", other.capitalised()),
                    value / 2,
                    other,
                    self.current.unit,
                );
                self.asking = format!("How many {unit} does {} have?", other.name());
            }
            Move::Share => {
                let divisors = self.divisors(value);
                let friends = divisors[self.stream.below(divisors.len() as u64) as usize];
                let given = self.add_given("friends", friends);
                self.sentences.push(format!(
                    "{} shares the {unit} equally among {friends} friends.",
                    owner.capitalised()
                ));
                self.add_step(
                    &format!("{}_per_friend", snake_case(unit)),
                    Expression::binary(Operation::FloorDivide, current, Expression::Given(given)),
                    format!("Each friend gets {{arithmetic}} {unit}."),
                    value / friends,
                    Owner::EachFriend,
                    self.current.unit,
                );
                self.asking = format!("How many {unit} does each friend get?");
            }
            Move::Pack => {
                let divisors = self.divisors(value);
                let size = divisors[self.stream.below(divisors.len() as u64) as usize];
                let container = self.stream.below(CONTAINERS.len() as u64) as usize;
                let (singular, plural) = CONTAINERS[container];
                let given = self.add_given(&format!("{}_per_{singular}", snake_case(unit)), size);
                self.sentences.push(format!(
                    "{} puts the {unit} into {plural} with {size} {unit} in each {singular}.",
                    owner.capitalised()
                ));
                self.add_step(
                    plural,
                    Expression::binary(Operation::FloorDivide, current, Expression::Given(given)),
                    format!("{} fills {{arithmetic}} {plural}.", owner.capitalised()),
                    value / size,
                    owner,
                    Unit::Container(container),
                );
                self.asking = format!("How many {plural} does {} fill?", owner.name());
            }
            Move::Worth => {
                let Unit::Item(item) = self.current.unit else {
                    return;
                };
                let singular = ITEMS[item].0;
                let largest = (self.cap / value.max(1)).clamp(self.low.max(2), self.high);
                let price = self.stream.between(self.low.max(2), largest);
                let given = self.add_given(&format!("dollars_per_{}", snake_case(singular)), price);
                let possessive = if owner == Owner::EachFriend {
                    "each friend's".to_string()
                } else {
                    format!("{}'s", owner.name())
                };
                self.sentences
                    .push(format!("Each {singular} is worth {price} dollars."));
                self.add_step(
                    &format!("{}_value", snake_case(unit)),
                    Expression::binary(Operation::Multiply, current, Expression::Given(given)),
                    format!("The {unit} are worth {{arithmetic}} dollars."),
                    value * price,
                    owner,
                    Unit::Dollars,
                );
                self.asking = format!("How many dollars are {possessive} {unit} worth?");
            }
            Move::Together => {
                let Some(partner) = self.partner() else {
                    return;
                };
                self.add_step(
                    &format!("total_{}", snake_case(unit)),
                    Expression::binary(Operation::Add, partner.reference.expression(), current),
                    format!("Together they have {{arithmetic}} {unit}."),
                    partner.value + value,
                    owner,
                    self.current.unit,
                );
                self.asking = format!(
                    "How many {unit} do {} and {} have together?",
                    partner.owner.name(),
                    owner.name()
                );
            }
        }
    }

    fn add_given(&mut self, base: &str, value: i64) -> usize {
        let name = self.fresh_name(base);
        self.givens.push(Given {
            name,
            value: Number::whole(value),
        });
        self.givens.len() - 1
    }

    fn add_step(
        &mut self,
        base: &str,
        expression: Expression,
        sentence: String,
        value: i64,
        owner: Owner,
        unit: Unit,
    ) {
        let name = self.fresh_name(base);
        self.steps.push(Step {
            name,
            expression,
            sentence,
            slip: None,
        });
        self.current = Holding {
            owner,
            unit,
            value,
            reference: ReferenceTo::Step(self.steps.len() - 1),
        };
        self.holdings.push(self.current);
    }
}
