//! [`Expression`]: the arithmetic of one solution step, over literals, the
//! quantities the question gives and the results of earlier steps.
//!
//! One tree renders as Python (names) and as prose (the values written out),
//! so the three formats of a problem can never disagree about its arithmetic.

use serde::{Deserialize, Serialize};

use super::{Number, Operation};

/// An arithmetic expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expression {
    /// A number written inline (`* 2` for "twice as many").
    Literal(Number),
    /// The question's given quantity at this index.
    Given(usize),
    /// The result of the earlier step at this index.
    Step(usize),
    /// `left operation right`.
    Binary {
        /// The operation.
        operation: Operation,
        /// Left operand.
        left: Box<Expression>,
        /// Right operand.
        right: Box<Expression>,
    },
}

impl Expression {
    /// `left operation right`.
    pub fn binary(operation: Operation, left: Expression, right: Expression) -> Expression {
        Expression::Binary {
            operation,
            left: Box::new(left),
            right: Box::new(right),
        }
    }

    /// The value, looking givens and steps up in the slices; `None` on a
    /// division by zero, an overflow or a dangling reference.
    pub fn evaluate(&self, givens: &[Number], steps: &[Number]) -> Option<Number> {
        match self {
            Expression::Literal(value) => Some(*value),
            Expression::Given(index) => givens.get(*index).copied(),
            Expression::Step(index) => steps.get(*index).copied(),
            Expression::Binary {
                operation,
                left,
                right,
            } => operation.apply(
                left.evaluate(givens, steps)?,
                right.evaluate(givens, steps)?,
            ),
        }
    }

    /// Writes the expression with `leaf` rendering each literal, given and
    /// step, and with the parentheses the precedence rules need. A right
    /// operand of equal precedence is always parenthesised, so that the
    /// order of evaluation (and any floating point rounding) is the tree's.
    pub fn render(
        &self,
        leaf: &dyn Fn(&Expression) -> String,
        symbol: fn(Operation) -> &'static str,
    ) -> String {
        match self {
            Expression::Binary {
                operation,
                left,
                right,
            } => {
                let precedence = operation.precedence();
                let left_text = left.render(leaf, symbol);
                let left_text = match left.as_ref() {
                    Expression::Binary {
                        operation: inner, ..
                    } if inner.precedence() < precedence => {
                        format!("({left_text})")
                    }
                    _ => left_text,
                };
                let right_text = right.render(leaf, symbol);
                let right_text = match right.as_ref() {
                    Expression::Binary {
                        operation: inner, ..
                    } if inner.precedence() <= precedence => {
                        format!("({right_text})")
                    }
                    _ => right_text,
                };
                format!("{left_text} {} {right_text}", symbol(*operation))
            }
            leaf_expression => leaf(leaf_expression),
        }
    }

    /// Every operation node, in a fixed (pre-order) order.
    pub fn operations(&self) -> Vec<Operation> {
        match self {
            Expression::Binary {
                operation,
                left,
                right,
            } => {
                let mut all = vec![*operation];
                all.extend(left.operations());
                all.extend(right.operations());
                all
            }
            _ => Vec::new(),
        }
    }

    /// A copy with the `position`-th operation (pre-order) replaced.
    pub fn with_operation(&self, position: usize, replacement: Operation) -> Expression {
        let mut counter = 0;
        self.replace_operation(position, replacement, &mut counter)
    }

    fn replace_operation(
        &self,
        position: usize,
        replacement: Operation,
        counter: &mut usize,
    ) -> Expression {
        match self {
            Expression::Binary {
                operation,
                left,
                right,
            } => {
                let here = *counter;
                *counter += 1;
                let operation = if here == position {
                    replacement
                } else {
                    *operation
                };
                let left = left.replace_operation(position, replacement, counter);
                let right = right.replace_operation(position, replacement, counter);
                Expression::binary(operation, left, right)
            }
            other => other.clone(),
        }
    }

    /// Every reference to a given or a step, in a fixed (pre-order) order.
    pub fn references(&self) -> Vec<Expression> {
        match self {
            Expression::Given(_) | Expression::Step(_) => vec![self.clone()],
            Expression::Binary { left, right, .. } => {
                let mut all = left.references();
                all.extend(right.references());
                all
            }
            Expression::Literal(_) => Vec::new(),
        }
    }

    /// A copy with the `position`-th reference (pre-order) replaced.
    pub fn with_reference(&self, position: usize, replacement: &Expression) -> Expression {
        let mut counter = 0;
        self.replace_reference(position, replacement, &mut counter)
    }

    fn replace_reference(
        &self,
        position: usize,
        replacement: &Expression,
        counter: &mut usize,
    ) -> Expression {
        match self {
            Expression::Given(_) | Expression::Step(_) => {
                let here = *counter;
                *counter += 1;
                if here == position {
                    replacement.clone()
                } else {
                    self.clone()
                }
            }
            Expression::Binary {
                operation,
                left,
                right,
            } => {
                let left = left.replace_reference(position, replacement, counter);
                let right = right.replace_reference(position, replacement, counter);
                Expression::binary(*operation, left, right)
            }
            Expression::Literal(_) => self.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Expression, Number, Operation};

    fn number(value: i64) -> Expression {
        Expression::Literal(Number::whole(value))
    }

    #[test]
    fn renders_only_the_parentheses_the_tree_needs() {
        let leaf = |expression: &Expression| match expression {
            Expression::Literal(value) => value.to_string(),
            _ => "x".to_string(),
        };
        let sum = Expression::binary(Operation::Add, number(1), number(2));
        let product = Expression::binary(Operation::Multiply, sum.clone(), number(3));
        assert_eq!(
            product.render(&leaf, Operation::python_symbol),
            "(1 + 2) * 3"
        );
        let difference = Expression::binary(Operation::Subtract, number(9), sum.clone());
        assert_eq!(
            difference.render(&leaf, Operation::python_symbol),
            "9 - (1 + 2)"
        );
        let chained = Expression::binary(Operation::Add, sum, number(4));
        assert_eq!(chained.render(&leaf, Operation::python_symbol), "1 + 2 + 4");
        assert_eq!(chained.evaluate(&[], &[]), Some(Number::whole(7)));
    }
}
