package io.deployer.demo.items;

import jakarta.validation.Constraint;
import jakarta.validation.ConstraintValidator;
import jakarta.validation.ConstraintValidatorContext;
import jakarta.validation.Payload;
import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * At most {@code max} characters as a person counts them (Unicode code points, so an emoji is one),
 * after leading and trailing white space is stripped, as the item is stored. {@code null} is valid.
 */
@Documented
@Constraint(validatedBy = CodePoints.Validator.class)
@Target({ElementType.FIELD, ElementType.RECORD_COMPONENT, ElementType.PARAMETER})
@Retention(RetentionPolicy.RUNTIME)
public @interface CodePoints {
    int max();

    String message() default "must be at most {max} characters";

    Class<?>[] groups() default {};

    Class<? extends Payload>[] payload() default {};

    /** Checks {@link CodePoints}. */
    class Validator implements ConstraintValidator<CodePoints, String> {
        private int max;

        @Override
        public void initialize(CodePoints annotation) {
            this.max = annotation.max();
        }

        @Override
        public boolean isValid(String value, ConstraintValidatorContext context) {
            if (value == null) {
                return true;
            }
            String stripped = value.strip();
            return stripped.codePointCount(0, stripped.length()) <= max;
        }
    }
}
